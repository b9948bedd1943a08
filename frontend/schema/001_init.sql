-- 001_init.sql -- pipol's state: who, what, when. Every rule that must
-- hold under concurrent requests is a constraint here, not a check in C.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE users (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
	is_admin	boolean NOT NULL DEFAULT false,
	ssh_keys	text NOT NULL DEFAULT '',
	created		timestamptz NOT NULL DEFAULT now()
);

-- API tokens: only their SHA-256 is kept
CREATE TABLE tokens (
	hash		bytea PRIMARY KEY CHECK (length(hash) = 32),
	user_id		bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	created		timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
	mac		macaddr NOT NULL UNIQUE,
	ip		inet UNIQUE,
	profile		text NOT NULL CHECK (profile IN
			    ('pc-bios', 'uefi', 'netboot-only', 'virtual')),
	power_driver	text NOT NULL DEFAULT 'manual' CHECK (power_driver IN
			    ('qemu', 'ipmi', 'manual')),
	power_params	jsonb NOT NULL DEFAULT '{}',
	boot_mode	text NOT NULL DEFAULT 'local' CHECK (boot_mode IN
			    ('local', 'deploy', 'kernel', 'rescue')),
	created		timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE licences (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE,
	total		integer NOT NULL CHECK (total >= 0)
);

CREATE TABLE queues (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE,
	max_nodes	integer NOT NULL DEFAULT 8 CHECK (max_nodes > 0),
	max_duration	interval NOT NULL DEFAULT '1 day',
	hours_from	time,		-- allowed start hours, NULL: any
	hours_to	time
);
INSERT INTO queues (name) VALUES ('default');

CREATE TABLE reservations (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users,
	queue_id	bigint NOT NULL REFERENCES queues,
	during		tstzrange NOT NULL CHECK (NOT isempty(during)),
	state		text NOT NULL DEFAULT 'active' CHECK (state IN
			    ('active', 'released', 'expired')),
	created		timestamptz NOT NULL DEFAULT now()
);

-- one row per node held: the exclusion constraint makes double booking
-- impossible whatever the concurrency
CREATE TABLE reservation_nodes (
	reservation_id	bigint NOT NULL REFERENCES reservations ON DELETE CASCADE,
	node_id		bigint NOT NULL REFERENCES nodes,
	during		tstzrange NOT NULL,
	live		boolean NOT NULL DEFAULT true,
	PRIMARY KEY (reservation_id, node_id),
	EXCLUDE USING gist (node_id WITH =, during WITH &&) WHERE (live)
);

CREATE TABLE reservation_licences (
	reservation_id	bigint NOT NULL REFERENCES reservations ON DELETE CASCADE,
	licence_id	bigint NOT NULL REFERENCES licences,
	count		integer NOT NULL CHECK (count > 0),
	PRIMARY KEY (reservation_id, licence_id)
);

CREATE TABLE images (
	name		text NOT NULL,
	version		integer NOT NULL CHECK (version > 0),
	disk_hash	bytea NOT NULL CHECK (length(disk_hash) = 32),
	disk_size	bigint NOT NULL,
	meta		jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (name, version)
);

CREATE TABLE deployments (
	id		bigserial PRIMARY KEY,
	node_id		bigint NOT NULL REFERENCES nodes,
	reservation_id	bigint REFERENCES reservations,
	image_name	text NOT NULL,
	image_version	integer NOT NULL,
	token_hash	bytea UNIQUE CHECK (length(token_hash) = 32),
	state		text NOT NULL DEFAULT 'pending' CHECK (state IN
			    ('pending', 'booting', 'fetching', 'writing',
			     'postinstall', 'rebooting', 'ready', 'failed')),
	reason		text,
	bytes_fetched	bigint NOT NULL DEFAULT 0,
	bytes_written	bigint NOT NULL DEFAULT 0,
	created		timestamptz NOT NULL DEFAULT now(),
	updated		timestamptz NOT NULL DEFAULT now()
);
-- at most one deployment in flight per node
CREATE UNIQUE INDEX deployments_one_live ON deployments (node_id)
	WHERE state NOT IN ('ready', 'failed');

CREATE TABLE deployment_transitions (
	deployment_id	bigint NOT NULL REFERENCES deployments ON DELETE CASCADE,
	state		text NOT NULL,
	at		timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- append-only: no UPDATE or DELETE is ever issued on it
CREATE TABLE events (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	actor		text NOT NULL,
	kind		text NOT NULL,
	detail		jsonb NOT NULL DEFAULT '{}'
);
