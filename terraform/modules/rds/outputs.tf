output "instance_identifier" {
  description = "Identifier of the DB instance (CloudWatch dimension DBInstanceIdentifier)"
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the DB instance"
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Host name of the DB instance (the services' DATABASE_HOST)"
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port (the services' DATABASE_PORT)"
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Application database name (the services' DATABASE_NAME)"
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the RDS-managed master credentials (username/password JSON); the services' DATABASE_SECRET_ID"
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "security_group_id" {
  description = "Security group of the database"
  value       = aws_security_group.this.id
}
