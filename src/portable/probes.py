"""Threshold-probe rows (written next)."""
def probe_rows(model, *, n=1000, seed=0, background=None):
    raise NotImplementedError
