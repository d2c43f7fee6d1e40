"""One pipeline: the lifecycle's steps as plain functions, in one place.

Layer: just below the entry points (cli, flowkit; flows/ and app/ outside the package). It
may import every lifecycle unit (training, release, operate, monitor) and everything below
them; nothing in shared/ but the entry points imports it.

Each flow step calls one function here (or one it re-exports from the unit that owns it);
the tests' builders and the app's test fixtures run the same functions in one process, so
the lifecycle is sequenced once, here:

  ingest  - land (start), validate_part (validate, one partition), publish (join);
            ingest: all three in this process
  train   - start_training (start), train_and_save (train, one family), register (compare);
            train: all three in this process
  score   - plan (start), score_partition (score, one partition), record (join);
            score: all three in this process
  monitor - check (start: every check, recorded)

The submodules import only what their steps use, so a flow task that imports one of them
does not pay for the others (nothing is imported here).
"""
