"""The Content-Security-Policy of the formgrader's pages: no inline script, no script from
another origin, nothing framed, no plug-ins, forms and links to the base only to this server.

Defence in depth behind the kit's templates (dropout_kit/pages): if a student's markup ever
slipped through them, the browser still would not run it. Styles stay allowed inline
(nbconvert inlines its stylesheet, nbgrader's markup uses style attributes); a student's
style is removed by the templates.

The policy is added per response by an output transform, because Jupyter sets one
Content-Security-Policy for every page of a server (JupyterHub: frame-ancestors 'none'),
and a policy set per page would replace it. The server's frame-ancestors (and report-uri)
are kept as the server set them.
"""
from __future__ import annotations

from tornado.web import OutputTransform

FORMGRADER_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-src 'none'",
]
KEPT_FROM_SERVER = ("frame-ancestors", "report-uri")


def formgrader_policy(server_policy: str | None) -> str:
    """The formgrader's policy, with the server's frame-ancestors and report-uri kept
    (frame-ancestors 'self' where the server set none, Jupyter's default)."""
    kept = [d.strip() for d in (server_policy or "").split(";")
            if d.strip().split(" ", 1)[0] in KEPT_FROM_SERVER]
    if not any(d.startswith("frame-ancestors") for d in kept):
        kept.insert(0, "frame-ancestors 'self'")
    return "; ".join([*FORMGRADER_POLICY, *kept])


def transform_for(prefix: str) -> type[OutputTransform]:
    """An output transform that sets the policy on every response under `prefix`
    (the server's base URL + formgrader)."""

    class FormgraderPolicy(OutputTransform):
        def __init__(self, request):
            super().__init__(request)
            self.applies = request.path.startswith(prefix)

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.applies:
                headers["Content-Security-Policy"] = formgrader_policy(headers.get("Content-Security-Policy"))
            return status_code, headers, chunk

    return FormgraderPolicy
