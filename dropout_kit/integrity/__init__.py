"""Static reading of submitted notebooks (Python `ast`, never running them): the integrity scan and the hand-written dropout rule."""
