"""`make bench`: the performance benchmark of issue 5 (a script, not a test). See bench/run.py."""
