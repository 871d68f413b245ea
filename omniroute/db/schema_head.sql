-- revision: 0010

CREATE TABLE "agent_mappings" (
	id INTEGER NOT NULL, 
	agent_id VARCHAR NOT NULL, 
	source_model VARCHAR NOT NULL, 
	target_model VARCHAR NOT NULL, 
	updated_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (agent_id, source_model)
);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE "api_keys" (
	id VARCHAR NOT NULL, 
	label VARCHAR NOT NULL, 
	key_hash VARCHAR NOT NULL, 
	key_preview VARCHAR NOT NULL, 
	scope VARCHAR NOT NULL, 
	is_active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE captured_requests (
	id VARCHAR NOT NULL, 
	session_id VARCHAR, 
	timestamp DATETIME NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE "combos" (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	strategy VARCHAR NOT NULL, 
	nodes JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE "fallback_chains" (
	model VARCHAR NOT NULL, 
	chain JSON NOT NULL, 
	updated_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (model)
);

CREATE TABLE inspector_custom_hosts (
	host VARCHAR NOT NULL, 
	enabled BOOLEAN NOT NULL, 
	label VARCHAR, 
	kind VARCHAR NOT NULL, 
	added_at DATETIME NOT NULL, 
	last_seen_at DATETIME, 
	PRIMARY KEY (host)
);

CREATE TABLE inspector_sessions (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	started_at DATETIME NOT NULL, 
	stopped_at DATETIME, 
	request_count INTEGER NOT NULL, profile VARCHAR, 
	PRIMARY KEY (id)
);

CREATE TABLE "key_values" (
	"key" VARCHAR NOT NULL, 
	value JSON, 
	updated_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY ("key")
);

CREATE TABLE "model_aliases" (
	alias VARCHAR NOT NULL, 
	target VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (alias)
);

CREATE TABLE "provider_connections" (
	id VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	url VARCHAR NOT NULL, 
	api_key_encrypted VARCHAR, 
	key_preview VARCHAR, 
	is_active BOOLEAN NOT NULL, 
	max_concurrent INTEGER, 
	priority INTEGER NOT NULL, 
	test_status VARCHAR NOT NULL, 
	extra JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE usage_daily (
	day DATETIME NOT NULL, 
	model VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	api_key VARCHAR NOT NULL, 
	requests BIGINT NOT NULL, 
	errors BIGINT NOT NULL, 
	tokens_in BIGINT NOT NULL, 
	tokens_out BIGINT NOT NULL, 
	tokens_cached BIGINT NOT NULL, 
	cost_units BIGINT NOT NULL, 
	unpriced BIGINT NOT NULL, 
	PRIMARY KEY (day, model, provider, agent, api_key)
);

CREATE TABLE usage_errors (
	hour DATETIME NOT NULL, 
	status INTEGER NOT NULL, 
	digest VARCHAR NOT NULL, 
	error VARCHAR, 
	calls BIGINT NOT NULL, 
	last DATETIME NOT NULL, 
	PRIMARY KEY (hour, status, digest)
);

CREATE TABLE usage_hourly (
	hour DATETIME NOT NULL, 
	model VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	api_key VARCHAR NOT NULL, 
	requests BIGINT NOT NULL, 
	errors BIGINT NOT NULL, 
	tokens_in BIGINT NOT NULL, 
	tokens_out BIGINT NOT NULL, 
	tokens_cached BIGINT NOT NULL, 
	cost_units BIGINT NOT NULL, unpriced BIGINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY (hour, model, provider, agent, api_key)
);

CREATE TABLE usage_latency (
	hour DATETIME NOT NULL, 
	model VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	api_key VARCHAR NOT NULL, 
	bucket INTEGER NOT NULL, 
	calls BIGINT NOT NULL, 
	PRIMARY KEY (hour, model, provider, agent, api_key, bucket)
);

CREATE TABLE usage_latency_daily (
	day DATETIME NOT NULL, 
	model VARCHAR NOT NULL, 
	provider VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	api_key VARCHAR NOT NULL, 
	bucket INTEGER NOT NULL, 
	calls BIGINT NOT NULL, 
	PRIMARY KEY (day, model, provider, agent, api_key, bucket)
);

CREATE TABLE "usage_logs" (
	id INTEGER NOT NULL, 
	request_id VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	agent VARCHAR, 
	source VARCHAR NOT NULL, 
	client_format VARCHAR NOT NULL, 
	model_requested VARCHAR NOT NULL, 
	model_used VARCHAR, 
	provider VARCHAR, 
	connection_id VARCHAR, 
	tokens_in INTEGER NOT NULL, 
	tokens_out INTEGER NOT NULL, 
	tokens_cached INTEGER NOT NULL, 
	cost VARCHAR, 
	latency_ms FLOAT NOT NULL, 
	upstream_latency_ms FLOAT, 
	fallback_attempts INTEGER NOT NULL, 
	status INTEGER NOT NULL, 
	error VARCHAR, 
	api_key_id VARCHAR, 
	cost_units BIGINT DEFAULT '0' NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE user_agents (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	hosts JSON NOT NULL, 
	user_agents JSON NOT NULL, 
	wire_format VARCHAR NOT NULL, 
	paths JSON NOT NULL, 
	from_config BOOLEAN DEFAULT 0 NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_agent_mappings_agent_id ON agent_mappings (agent_id);

CREATE INDEX ix_api_keys_key_hash ON api_keys (key_hash);

CREATE INDEX ix_captured_requests_session_id ON captured_requests (session_id);

CREATE INDEX ix_captured_requests_timestamp ON captured_requests (timestamp);

CREATE UNIQUE INDEX ix_combos_name ON combos (name);

CREATE UNIQUE INDEX ix_provider_connections_name ON provider_connections (name);

CREATE INDEX ix_provider_connections_provider ON provider_connections (provider);

CREATE INDEX ix_usage_logs_api_key_id ON usage_logs (api_key_id);

CREATE INDEX ix_usage_logs_created_at ON usage_logs (created_at);

CREATE INDEX ix_usage_logs_request_id ON usage_logs (request_id);

CREATE INDEX ix_usage_logs_status_created_at ON usage_logs (status, created_at);

