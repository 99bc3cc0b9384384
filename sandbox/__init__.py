"""The sandbox: a faithful simulator of the DataFast and ChargebackStop APIs, served over real HTTP.

Both APIs live under one base URL (DataFast under `/api/`, ChargebackStop under `/v1/`), with
control endpoints and a small HTML page under `/_sandbox/`. Used for the demo, for training and by
the test suite; `python -m sandbox` serves it (see `__main__`), `server.SandboxServer` embeds it.

It restates the API contract from the upstream docs on purpose and imports nothing of the
product's: it is what catches a client that drifted from the docs.
"""
