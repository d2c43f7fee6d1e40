"""Make the endpoint's definitions (shared.deploy.service) real with boto3: each piece created,
or updated when it is already there, so deploying again rolls the service onto a new task
definition revision."""

from __future__ import annotations

import copy
from typing import Any

from shared.config import AwsConfig

from .service import LOAD_BALANCER, TARGET_GROUP, scaling_definitions
from .settings import DeployError


def _client(name: str, aws: AwsConfig) -> Any:
    import boto3

    return boto3.client(name, region_name=aws.region)


def _fill(node: Any, arns: dict[str, str]) -> Any:
    """The definitions with the placeholders replaced by the ARNs now known."""
    if isinstance(node, dict):
        return {k: _fill(v, arns) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, arns) for v in node]
    return arns.get(node, node) if isinstance(node, str) else node


def apply(aws: AwsConfig, d: dict[str, Any]) -> tuple[str, str]:
    """Create or update every piece; returns (task definition ARN, the ALB's DNS name)."""
    from botocore.exceptions import ClientError

    try:
        return _apply(aws, copy.deepcopy(d))
    except ClientError as e:
        op = e.operation_name
        raise DeployError(f"the service's {op} failed: {e.response['Error']['Message']}") from None


def _apply(aws: AwsConfig, d: dict[str, Any]) -> tuple[str, str]:
    logs = _client("logs", aws)
    group = d["log_group"]
    name = group["logGroupName"]
    found = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if not any(g["logGroupName"] == name for g in found):
        logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(**group)

    ecs = _client("ecs", aws)
    ecs.create_cluster(**d["cluster"])  # returns the cluster when it exists
    task = ecs.register_task_definition(**d["task_definition"])["taskDefinition"]
    task_arn = task["taskDefinitionArn"]

    elb = _client("elbv2", aws)
    lb = _load_balancer(elb, d["load_balancer"])
    tg = _target_group(elb, d["target_group"])
    arns = {LOAD_BALANCER: lb["LoadBalancerArn"], TARGET_GROUP: tg["TargetGroupArn"]}
    elb.modify_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"], Attributes=d["target_group_attributes"]
    )
    have = {
        x["Port"]: x["ListenerArn"]
        for x in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    for listener in _fill(d["listeners"], arns):
        if listener["Port"] in have:
            elb.modify_listener(ListenerArn=have[listener["Port"]], **listener)
        else:
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], **listener)

    service = _fill(d["service"], arns)
    service["taskDefinition"] = task_arn
    found = ecs.describe_services(cluster=service["cluster"], services=[service["serviceName"]])
    if any(x["status"] == "ACTIVE" for x in found["services"]):
        ecs.update_service(  # a new revision: a rolling deployment; scaling keeps the count
            cluster=service["cluster"],
            service=service["serviceName"],
            taskDefinition=task_arn,
            deploymentConfiguration=service["deploymentConfiguration"],
            networkConfiguration=service["networkConfiguration"],
            healthCheckGracePeriodSeconds=service["healthCheckGracePeriodSeconds"],
        )
    else:
        ecs.create_service(**service)

    label = (
        lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
        + "/"
        + tg["TargetGroupArn"].rsplit(":", 1)[1]
    )
    scaling = _client("application-autoscaling", aws)
    policy = scaling_definitions(aws, label)
    scaling.register_scalable_target(**policy["scalable_target"])
    new = policy["scaling_policy"]
    scaling.put_scaling_policy(**new)
    where = {k: new[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
    for old in scaling.describe_scaling_policies(
        ServiceNamespace=new["ServiceNamespace"], ResourceId=new["ResourceId"]
    )["ScalingPolicies"]:  # the policy of a metric no longer tracked
        if old["PolicyName"] != new["PolicyName"]:
            scaling.delete_scaling_policy(PolicyName=old["PolicyName"], **where)
    return task_arn, lb["DNSName"]


def _load_balancer(elb: Any, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        [lb] = elb.describe_load_balancers(Names=[spec["Name"]])["LoadBalancers"]
    except elb.exceptions.LoadBalancerNotFoundException:
        return elb.create_load_balancer(**spec)["LoadBalancers"][0]
    if lb["Scheme"] != spec["Scheme"]:
        raise DeployError(
            f"load balancer {spec['Name']} is {lb['Scheme']}, the settings ask for "
            f"{spec['Scheme']} (service.internet_facing): delete it to change that"
        )
    elb.set_security_groups(
        LoadBalancerArn=lb["LoadBalancerArn"], SecurityGroups=spec["SecurityGroups"]
    )
    elb.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"], Subnets=spec["Subnets"])
    return lb


def _target_group(elb: Any, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        [tg] = elb.describe_target_groups(Names=[spec["Name"]])["TargetGroups"]
    except elb.exceptions.TargetGroupNotFoundException:
        return elb.create_target_group(**spec)["TargetGroups"][0]
    if (tg["Port"], tg["VpcId"]) != (spec["Port"], spec["VpcId"]):
        raise DeployError(
            f"target group {spec['Name']} exists on port {tg['Port']} in {tg['VpcId']}: "
            f"delete it (and its service) to move the endpoint to port {spec['Port']} in "
            f"{spec['VpcId']}"
        )
    checks = {k: v for k, v in spec.items() if k.startswith("HealthCheck") or "Threshold" in k}
    elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], Matcher=spec["Matcher"], **checks)
    return tg
