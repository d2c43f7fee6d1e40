"""Online capture into an s3:// data root (a moto server on loopback): written in day
partitions, listed, read back and pruned by retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from shared.config import CaptureSettings, load_project
from shared.operate.capture import writer_for
from shared.operate.captured import capture_files, read_capture
from tests.conftest import write_project
from tests.service.test_capture import _captured

pytestmark = pytest.mark.slow


def test_capture_writes_lists_reads_and_prunes_an_s3_data_root(
    moto_server: str, tmp_path: Path
) -> None:
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket="renkei-data")
    cfg = load_project(write_project(tmp_path, storage__data_root="s3://renkei-data/eta"))
    cfg = cfg.model_copy(update={"capture": CaptureSettings(retention_days=7)})
    now = datetime.now(UTC)
    writer = writer_for(cfg, "production")
    writer.start()
    for i, at in enumerate([now - timedelta(days=20), now - timedelta(days=10), now]):
        assert writer.offer(_captured(i, at))
    writer.stop()
    assert writer.counts.written == 3 and writer.counts.write_errors == 0
    files = capture_files(cfg.storage.data_root)
    assert len(files) == 3
    assert all(f.startswith("s3://renkei-data/eta/capture/alias=production/date=") for f in files)
    assert sorted(read_capture(cfg.storage.data_root)["request_id"]) == ["q0", "q1", "q2"]
    assert writer.prune() == 2
    assert read_capture(cfg.storage.data_root)["request_id"].tolist() == ["q2"]
