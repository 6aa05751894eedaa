"""tapegrad's benchmark suite: pytest-benchmark groups, cold start, report (see README.md)."""
