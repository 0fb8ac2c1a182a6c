//! The in-process logi provider.
