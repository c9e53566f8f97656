"""The sandbox's KeyValueStore data plane as botocore's real client (SigV4A, awscrt) sees it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import botocore.config
import botocore.exceptions
import pytest

from failover.aws import kvs as aws_kvs
from failover.model import KvsSettings
from failover.sandbox.kvs_server import KvsServer

ARN = "arn:aws:cloudfront::123456789012:key-value-store/0f1e2d3c-0000-4000-8000-000000000002"


@pytest.fixture
def server() -> Iterator[KvsServer]:
    s = KvsServer(ARN)
    yield s
    s.close()


@pytest.fixture
def client(server: KvsServer) -> object:
    settings = KvsSettings(ARN, 50.0, server.endpoint_url, server.proxy)
    return aws_kvs.client(boto3.Session(), settings)


def code(e: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_every_write_moves_the_store_wide_etag_and_a_stale_one_is_a_409(
    server: KvsServer, client: object
) -> None:
    c = client  # type: Any
    first = c.describe_key_value_store(KvsARN=ARN)["ETag"]
    second = c.put_key(KvsARN=ARN, Key="a", Value="1", IfMatch=first)["ETag"]
    assert second != first
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.put_key(KvsARN=ARN, Key="b", Value="2", IfMatch=first)
    assert code(e) == "ConflictException"
    third = c.update_keys(
        KvsARN=ARN, IfMatch=second, Puts=[{"Key": "b", "Value": "2"}], Deletes=[{"Key": "a"}]
    )["ETag"]
    assert c.describe_key_value_store(KvsARN=ARN)["ETag"] == third
    assert c.get_key(KvsARN=ARN, Key="b")["Value"] == "2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_key(KvsARN=ARN, Key="a")
    assert code(e) == "ResourceNotFoundException"
    assert server.refused_auth == 0


def test_list_keys_pages_as_the_client_asks(server: KvsServer, client: object) -> None:
    for i in range(5):
        server.put(f"k{i}", str(i))
    c = client  # type: Any
    pages = c.get_paginator("list_keys").paginate(KvsARN=ARN, PaginationConfig={"PageSize": 2})
    assert [item["Key"] for page in pages for item in page["Items"]] == [f"k{i}" for i in range(5)]


def test_a_value_over_1024_bytes_is_refused(client: object) -> None:
    c = client  # type: Any
    etag = c.describe_key_value_store(KvsARN=ARN)["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.put_key(KvsARN=ARN, Key="big", Value="x" * 1025, IfMatch=etag)
    assert code(e) == "ValidationException"


def test_injected_faults_answer_500_then_stall_past_the_client_s_timeout(
    server: KvsServer,
) -> None:
    server.inject("http_500", operations=["DescribeKeyValueStore"])
    cfg = botocore.config.Config(
        proxies={"http": server.proxy}, read_timeout=0.2, retries={"total_max_attempts": 1}
    )
    c = boto3.Session().client(
        "cloudfront-keyvaluestore", endpoint_url=server.endpoint_url, config=cfg
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.describe_key_value_store(KvsARN=ARN)
    assert code(e) == "InternalServerException"
    server.inject("slow", operations=["GetKey"], delay=0.5)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        c.get_key(KvsARN=ARN, Key="a")
