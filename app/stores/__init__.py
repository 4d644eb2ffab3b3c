"""What the proxy keeps between requests, behind interfaces: in-process now, shared backends later."""
