"""The sandbox: a faithful simulator of the DataFast and ChargebackStop APIs, served over real HTTP.

Both APIs live under one base URL (DataFast under `/api/`, ChargebackStop under `/v1/`), with
control endpoints and a small HTML page under `/_sandbox/`. Used for the demo, for training and by
the test suite; `python manage.py sandbox` serves it. See `server.SandboxServer`.
"""
