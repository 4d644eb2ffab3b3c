"""The HTTP server in front of the app: uvicorn, with the limits a server facing the internet needs before the
app ever sees a request (request head size, slow clients, a bounded number of connections with room kept
for new ones), and the access log scrubbed of credentials.

    limits.py      what a connection may hold and for how long, from the settings and the open-file limit
    warden.py      every connection's phase; timeouts and evictions, decided on an injectable clock
    protocol.py    uvicorn's httptools protocol, reporting phases to the warden and capping request heads
    access_log.py  query strings without their values in uvicorn's access log
    options.py     the uvicorn options the console script (and the tests' servers) run with
"""
