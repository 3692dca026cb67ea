output "bucket_id" {
  description = "Name of the log bucket, available once its policy lets the log deliveries write"
  value       = aws_s3_bucket.this.id

  depends_on = [aws_s3_bucket_policy.this, aws_s3_bucket_ownership_controls.this]
}

output "bucket_arn" {
  description = "ARN of the log bucket"
  value       = aws_s3_bucket.this.arn
}

output "alb_prefix" {
  description = "Key prefix to give the ALB access-log configuration"
  value       = "alb"
}

output "s3_access_prefix" {
  description = "Key prefix of the S3 server access logs; each source bucket writes under <prefix><bucket>/"
  value       = "s3-access/"
}

output "bucket_policy_id" {
  description = "ID of the bucket policy; depend on it before pointing log delivery at the bucket"
  value       = aws_s3_bucket_policy.this.id
}
