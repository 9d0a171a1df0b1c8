"""Work orders (工单): one module per concern, nothing re-exported here.

- `numbering`: the `YYYYMMDD` + 4-digit daily number;
- `creation`: opening a work order (the fast path every inbound request takes);
- `lifecycle`: the 12345 loop as a state machine (which move is allowed from where);
- `workflow`: applying a move (the transition table beside the state machine), staff edits, notes;
- `queries`: lookups, listings, the citizen's lookup, and the views of an order for staff and citizens.
"""
