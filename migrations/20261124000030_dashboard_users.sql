-- Dashboard: users (argon2 password hashes), sessions and login attempts (for rate limiting).
--
-- A session's cookie value is never stored: only its sha256, so a database dump yields no
-- working sessions. Each session carries its own CSRF token, which every form posts back.

create table dashboard_user (
    user_id       bigserial primary key,
    username      text not null unique check (username ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    password_hash text not null,               -- argon2id PHC string
    role          text not null check (role in ('viewer', 'trader', 'admin')),
    created_at    timestamptz not null default now(),
    disabled_at   timestamptz
);

create table dashboard_session (
    session_hash bytea primary key,             -- sha256 of the cookie value
    user_id      bigint not null references dashboard_user (user_id) on delete cascade,
    csrf_token   text not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null
);
create index dashboard_session_expiry on dashboard_session (expires_at);

-- Every sign-in attempt; failures in a recent window are counted per username and per client.
create table dashboard_login_attempt (
    attempt_id bigserial primary key,
    username   text not null,
    client     text not null,
    succeeded  boolean not null,
    ts         timestamptz not null default now()
);
create index dashboard_login_attempt_user on dashboard_login_attempt (username, ts);
create index dashboard_login_attempt_client on dashboard_login_attempt (client, ts);
