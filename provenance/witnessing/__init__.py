"""A C2SP tlog-witness (`provenance witness serve`): cosigns a log's checkpoints only
when each is consistent with the last one it cosigned for that log.

`store` (its own small database: one row per log), `witness` (the add-checkpoint
checks, atomic with the update), `app` (the HTTP routes), `server` (uvicorn).
"""
