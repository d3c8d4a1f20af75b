"""The object source over boto3: S3 objects that hold the assets' bytes.

HEAD and GET wait on a socket, so each runs under the invocation's deadline
(:meth:`.deadline.Deadline.run`); the body is then read by the streams' reader thread.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .deadline import NO_DEADLINE, Deadline
from .errors import PublishFailed, client_error_code
from .ports import ObjectInfo
from .properties import AssetSpec
from .streams import Readable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound"}
_DENIED = {"403", "AccessDenied", "Forbidden"}
_CHANGED = {"412", "PreconditionFailed"}
#: The ETag of an object made by a multipart upload: the MD5 of the parts' MD5s, ``-``, count.
_MULTIPART_ETAG = re.compile(r"-\d+\"?$")


class S3ObjectSource:
    """The :class:`.ports.ObjectSource` of S3; errors become reasons that name the asset.

    Each object is HEADed once: what a HEAD tells is kept in ``heads`` (by asset location),
    which the sources of one invocation share; the GET's ``If-Match`` still fails if the
    object changed since.
    """

    def __init__(
        self,
        client: S3Client,
        deadline: Deadline = NO_DEADLINE,
        *,
        heads: dict[str, ObjectInfo] | None = None,
    ) -> None:
        self._client = client
        self._deadline = deadline
        self._heads: dict[str, ObjectInfo] = {} if heads is None else heads

    def head(self, asset: AssetSpec) -> ObjectInfo:
        """Size, ETag and any stored full-object SHA256 of ``asset``'s object."""
        known = self._heads.get(asset.location)
        if known is not None:
            return known
        try:
            head = self._deadline.run(
                lambda: self._client.head_object(**self._address(asset), ChecksumMode="ENABLED")
            )
        except ClientError as error:
            raise _failure(asset, error) from None
        info = ObjectInfo(
            size=int(head["ContentLength"]),
            etag=str(head["ETag"]),
            stored_sha256=_full_object_sha256(head),
        )
        self._heads[asset.location] = info
        return info

    def open(self, asset: AssetSpec, info: ObjectInfo) -> Readable:
        """Stream the object's bytes; fails if it no longer is the object ``info`` describes."""
        try:
            response = self._deadline.run(
                lambda: self._client.get_object(**self._address(asset), IfMatch=info.etag)
            )
        except ClientError as error:
            raise _failure(asset, error) from None
        body: Readable = response["Body"]
        return body

    @staticmethod
    def _address(asset: AssetSpec) -> dict[str, Any]:
        address: dict[str, Any] = {"Bucket": asset.bucket, "Key": asset.key}
        if asset.object_version:
            address["VersionId"] = asset.object_version
        return address


def _full_object_sha256(head: Any) -> str | None:
    """The object's own SHA256 (hex) from a HeadObject with ``ChecksumMode=ENABLED``, if S3
    stores one.

    A multipart upload's SHA256 is a checksum of the parts' checksums (COMPOSITE; S3 offers
    FULL_OBJECT for multipart uploads only with CRC algorithms), not the asset's hash. S3 says
    so with ``ChecksumType: COMPOSITE`` and a ``…-N`` value; a botocore without the
    ChecksumType member (older Lambda runtimes) drops the type, and moto (5.2.5) answers a
    HeadObject of such an object with the bare value and no type. A multipart ETag (``"…-N"``)
    tells it in every case, so without an explicit FULL_OBJECT a multipart object's checksum
    is never taken for the asset's hash.
    """
    value = head.get("ChecksumSHA256")
    checksum_type = head.get("ChecksumType")
    if not value or checksum_type == "COMPOSITE":
        return None
    if checksum_type != "FULL_OBJECT" and (
        "-" in value or _MULTIPART_ETAG.search(head.get("ETag") or "")
    ):
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def _failure(asset: AssetSpec, error: ClientError) -> PublishFailed:
    code = client_error_code(error)
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    if code in _NOT_FOUND or status == "404":
        what = "does not exist"
    elif code in _DENIED or status == "403":
        what = (
            "cannot be read: access denied (check the bucket policy and KMS key; "
            "without s3:ListBucket a missing object also reads as denied)"
        )
    elif code in _CHANGED or status == "412":
        what = "changed while it was being published; deploy again"
    else:
        what = f"cannot be read: {code}"
    return PublishFailed(f"asset {asset.name!r}: {asset.location} {what}")
