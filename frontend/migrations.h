/* migrations.h -- the schema, numbered; the table is generated. */
#ifndef MIGRATIONS_H
#define MIGRATIONS_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];

#endif
