"""Serve: a prediction server (FastAPI on uvicorn) for every deployment in a workspace.

``dcai serve`` (or :func:`dcai.serve.app.create_app`) answers ``POST
/v1/deployments/{name}/predict`` with the deployment's live routing — primary, sticky canary,
shadow off the response path, human review by confidence — and logs every prediction. Needs
the ``serve`` extra (``pip install 'dcai[serve]'``); nothing here is imported by ``import dcai``.
"""
