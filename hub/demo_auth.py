"""Test-only authenticator: the users and passwords that `make hub` generated.

Never use it for a real course (use PAM, the default of jupyterhub_config.py): it accepts
exactly the users listed in a root-only JSON file, `build/hub/logins.json`, which holds
their passwords in clear so that a test (or a person trying the demo) can log in.
"""
import hmac
import json
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode


def read_logins(path):
    """{user: password} from a logins.json written by hub/run.py."""
    data = json.loads(Path(path).read_text())
    people = [data["instructor"], *data["students"]]
    return {p["user"]: p["password"] for p in people}


class DemoAuthenticator(Authenticator):
    logins_file = Unicode(help="logins.json written by `make hub`").tag(config=True)

    async def authenticate(self, handler, data):
        expected = read_logins(self.logins_file).get(data.get("username", ""))
        given = data.get("password", "")
        if expected is not None and hmac.compare_digest(expected.encode(), given.encode()):
            return data["username"]
        return None
