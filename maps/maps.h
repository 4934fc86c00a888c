/* maps.h - the parts of postern-maps(8): map types and the text formats
 * (mapfile.c), compiling to cdb (compile.c), reading cdb maps (query.c). */
#ifndef MAPS_H
#define MAPS_H
#include "buffer.h"
#include "aliases.h"
#include "map.h"

/* the text formats, chosen by the file's basename or -t */
enum {
  MAPTYPE_GENERIC,   /* key value; value = rest of the line, trimmed */
  MAPTYPE_SET,       /* key [ignored]; stored with an empty value */
  MAPTYPE_ACCESS,    /* key value; value checked by access_parse */
  MAPTYPE_ALIASES,   /* aliases(5) syntax */
  MAPTYPE_ROUTES,    /* key value; a mailertable, lib/routes.c checks both */
  MAPTYPE_RECIPIENTS /* user@domain or @domain [value]; the value is kept, unused */
};

#define MAPFILE_LINE_MAX (MAP_KEY_MAX + 1 + MAP_VALUE_MAX)  /* bytes, LF excluded */
#define MAPFILE_ERRORS_MAX 50   /* mapfile_parse gives up after this many */

/* maptype_of_path - the type of a text map from its basename: aliases,
 * access, local-domains and relay-domains, relay-recipients, else generic */
int maptype_of_path(const char *path);

/* maptype_by_name - the type named by -t: aliases, access, set, generic,
 * routes, recipients;
 * -1 unknown */
int maptype_by_name(const char *name);

/* mapfile_parse - read a text map of type from in; the same callbacks and
 * results as aliases_parse: the number of errors reported ("line N:
 * reason"), or -1 on a read error, no memory, or cb->entry returning -1. */
long mapfile_parse(buffer *in, int type, const struct aliases_cb *cb);

/* compile_map - compile the text map path into path.cdb atomically and
 * print a summary line; ends the process on any error, leaving the old
 * path.cdb in place and no temporary file. */
void compile_map(const char *path, int type);

/* query_map - look key up in file (the text map or its .cdb), print the
 * value; 0 found, 1 not found; ends the process on errors */
int query_map(const char *file, const char *key);

/* dump_map - print every record of file as a line the text format of
 * type reads back; ends the process on errors */
void dump_map(const char *file, int type);

/* check_access - which key of the access map file matches subject of
 * kind ("ip", "host" or "address"); prints "key value"; 0 a match, 1 none */
int check_access(const char *file, const char *kind, const char *subject);
#endif
