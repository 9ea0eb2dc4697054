# The course's Python environment first on PATH in every login shell: JupyterLab's terminals
# start one, and Debian's /etc/profile sets PATH anew, dropping the environment the hub's
# spawner gave the server (`dropout-kit`, `nbgrader` then "command not found").
# Installed as /etc/profile.d/dropout-kit-hub.sh by dropout-kit's hub/course.py;
# @PREFIX@ is the hub's environment.
case ":$PATH:" in
  *":@PREFIX@/bin:"*) ;;
  *) PATH="@PREFIX@/bin:$PATH"; export PATH ;;
esac
