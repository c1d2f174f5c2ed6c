//! Filter releases: the pipeline's filter section pulled from a git repository by tag
//! (`filters.*` settings), validated, and switched to without losing or duplicating an event.
