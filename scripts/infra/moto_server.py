"""Start moto's HTTP server with the gaps Halyard's Terraform needs bridged.

moto 5.2 answers almost every call the Halyard stack makes. Three gaps are patched
here, before handing over to moto's own server entry point (everything else is
stock moto):

1. Application Auto Scaling has no tagging calls (ListTagsForResource,
   TagResource, UntagResource). The AWS provider calls ListTagsForResource after
   creating an `aws_appautoscaling_target` and retries for about ten minutes when
   the call is not implemented. The three calls are added to moto's response
   class (tags kept in memory per account/region/ARN, like the rest of moto's
   state), and the `Tags` passed to RegisterScalableTarget are recorded.
2. PutBucketLogging checks the target bucket's policy for a statement granting
   logging.s3.amazonaws.com, but crashes (HTTP 500, retried by the provider until
   it times out) on any statement whose Principal is the string "*", such as the
   usual deny-insecure-transport statement. The check is replaced by one that
   skips such statements and otherwise applies moto's own rule.
3. ECS CreateService drops `serviceConnectConfiguration`, so DescribeServices
   never shows the Service Connect wiring Terraform asked for and
   scripts/infra/check_task_definitions.py could not read it back. As in AWS, the
   created service's deployment now carries it (deployments[].serviceConnectConfiguration).

AWS-managed IAM policies (AmazonECSTaskExecutionRolePolicy, ...) are the other
gap; they are bridged by starting moto with MOTO_IAM_LOAD_MANAGED_POLICIES=true
(see scripts/moto-server.sh).

Usage: python moto_server.py -H 127.0.0.1 -p 5055   (same arguments as moto_server)
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from moto.applicationautoscaling import responses as aas_responses
from moto.ecs import responses as ecs_responses
from moto.s3 import models as s3_models
from moto.server import main as moto_main

# (account, region) -> resource ARN -> {key: value}
_TAGS: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(
    lambda: defaultdict(dict)
)

Response = aas_responses.ApplicationAutoScalingResponse


def _store(self: Response) -> dict[str, dict[str, str]]:
    return _TAGS[(self.current_account, self.region)]


def list_tags_for_resource(self: Response) -> str:
    arn = self._get_param("ResourceARN")
    return json.dumps({"Tags": dict(_store(self).get(arn, {}))})


def tag_resource(self: Response) -> str:
    arn = self._get_param("ResourceARN")
    tags = self._get_param("Tags") or {}
    _store(self)[arn].update(tags)
    return json.dumps({})


def untag_resource(self: Response) -> str:
    arn = self._get_param("ResourceARN")
    keys = self._get_param("TagKeys") or []
    current = _store(self).get(arn, {})
    for key in keys:
        current.pop(key, None)
    return json.dumps({})


_original_register = Response.register_scalable_target


def register_scalable_target(self: Response) -> str:
    body = _original_register(self)
    tags = self._get_param("Tags") or {}
    if tags:
        arn = json.loads(body).get("ScalableTargetARN")
        if arn:
            _store(self)[arn].update(tags)
    return body


Response.list_tags_for_resource = list_tags_for_resource
Response.tag_resource = tag_resource
Response.untag_resource = untag_resource
Response.register_scalable_target = register_scalable_target


################################################################################
# 2. S3 PutBucketLogging with "Principal": "*" statements in the target policy
################################################################################

_original_log_check = s3_models.FakeBucket._log_permissions_enabled_policy


def _log_permissions_enabled_policy(target_bucket, target_prefix):  # type: ignore[no-untyped-def]
    policy = target_bucket.policy
    if not policy:
        return False
    document = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    usable = [s for s in statements if isinstance(s.get("Principal"), dict)]
    if len(usable) == len(statements):
        return _original_log_check(target_bucket, target_prefix)

    class _View:  # the target bucket as moto's check sees it, minus the statements it cannot read
        partition = target_bucket.partition
        name = target_bucket.name

    _View.policy = json.dumps({**document, "Statement": usable}).encode()
    return _original_log_check(_View, target_prefix)


s3_models.FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)


################################################################################
# 3. ECS CreateService keeps serviceConnectConfiguration
################################################################################

_original_create_service = ecs_responses.EC2ContainerServiceResponse.create_service


def create_service(self):  # type: ignore[no-untyped-def]
    result = _original_create_service(self)
    config = self._get_param("serviceConnectConfiguration")
    if config is not None:
        # AWS returns it per deployment (the Service shape has no such member).
        for deployment in result.result["service"].deployments:
            deployment["serviceConnectConfiguration"] = config
    return result


ecs_responses.EC2ContainerServiceResponse.create_service = create_service


if __name__ == "__main__":
    sys.exit(moto_main(sys.argv[1:]))
