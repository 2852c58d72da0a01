"""Model adapters: build the request, call the model, parse and validate its answer.

Pure with respect to Django: no ORM and no settings reads here; the service passes everything in.
`get_client(provider=..., **config)` in triage.services.triage picks an implementation.
"""
