"""One pipeline: the lifecycle's steps as plain functions, in one place.

Layer: just below the entry points (cli, flowkit; flows/ and app/ outside the package). It
may import every lifecycle unit (training, release, operate, monitor) and everything below
them; nothing in shared/ but the entry points imports it.

Each flow step calls one function: the steps that compose several units are here, the
one-unit steps are their unit's (named in brackets). The tests' builders and the app's test
fixtures run each flow's steps in one process through the same functions, so the lifecycle
is sequenced once, here:

  ingest  - land (start), validate_part (validate, one partition), publish (join);
            ingest: all three in this process
  train   - [shared.training] start_training (start) and train_and_save (train, one
            family), register (compare); train: all three in this process
  score   - plan (start), [shared.operate.scoring] score_partition (score, one partition),
            record (join); score: all three in this process
  monitor - check (start: every check, recorded)

Each task is a process that imports only what its step uses: nothing is imported here, and
a submodule imports the heavy units (the guard, fitting) inside the functions that need
them, so that a join or a compare step does not load them (bench/profile_tasks.py).
"""
