//! End-to-end suites for logi-tower live in this package's `tests/` folder.
