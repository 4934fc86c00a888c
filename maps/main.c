/* postern-maps - compile text maps to cdb, query them; newaliases.
 *
 *   postern-maps compile [-t TYPE] FILE     FILE -> FILE.cdb, atomically
 *   postern-maps query FILE KEY             print KEY's value; exit 1 if none
 *   postern-maps dump [-t TYPE] FILE        print every record
 *   postern-maps check FILE ip|host|from|to|address SUBJECT
 *                                           which access key matches
 *   postern-maps newaliases [-C CONF]       compile map_dir/aliases
 *   newaliases [-C CONF]                    the same
 *
 * No descriptors besides stdout (values, summaries) and stderr (errors).
 * Exit codes and formats: postern-maps.8. */
#include <sysexits.h>
#include "errmsg.h"
#include "str.h"
#include "config.h"
#include "maps.h"

#define USAGE "usage: postern-maps compile [-t TYPE] FILE | query FILE KEY | " \
              "dump [-t TYPE] FILE | check FILE ip|host|from|to|address SUBJECT | newaliases [-C CONF]"

static void die_usage(void) { die(EX_USAGE, USAGE); }

/* type_option - "-t TYPE" at argv[0..1], if there: the type, else -1;
 * *used says how many arguments it took */
static int type_option(int argc, char **argv, int *used)
{
  int t;
  *used = 0;
  if (argc < 1 || !str_equal(argv[0], "-t")) return -1;
  if (argc < 2) die_usage();
  t = maptype_by_name(argv[1]);
  if (t == -1) die(EX_USAGE, "unknown map type ", argv[1], ": want aliases, access, set, routes or generic");
  *used = 2;
  return t;
}

/* newaliases - compile the aliases file of the configured map_dir */
static int newaliases(int argc, char **argv)
{
  struct config cfg;
  stralloc path = { 0 };
  const char *conf = 0;
  if (argc == 2 && str_equal(argv[0], "-C")) conf = argv[1];
  else if (argc != 0) die(EX_USAGE, "usage: newaliases [-C CONF]");
  config_load(&cfg, conf);
  if (!stralloc_copys(&path, cfg.map_dir) || !stralloc_cats(&path, "/aliases")
      || !stralloc_0(&path))
    die(EX_TEMPFAIL, "out of memory");
  compile_map(path.s, MAPTYPE_ALIASES);
  stralloc_free(&path);
  config_free(&cfg);
  return 0;
}

/* compile_or_dump - the two subcommands taking [-t TYPE] FILE */
static int compile_or_dump(int compile, int argc, char **argv)
{
  int used, type = type_option(argc, argv, &used);
  if (argc - used != 1) die_usage();
  if (compile) compile_map(argv[used], type == -1 ? maptype_of_path(argv[used]) : type);
  else dump_map(argv[used], type);
  return 0;
}

int main(int argc, char **argv)
{
  const char *me = argc > 0 ? argv[0] : "";
  errmsg_iam("postern-maps");
  if (me[str_rchr(me, '/')]) me += str_rchr(me, '/') + 1;   /* the basename */
  if (str_equal(me, "newaliases")) return newaliases(argc - 1, argv + 1);
  if (argc < 2) die_usage();
  if (str_equal(argv[1], "compile")) return compile_or_dump(1, argc - 2, argv + 2);
  if (str_equal(argv[1], "dump")) return compile_or_dump(0, argc - 2, argv + 2);
  if (str_equal(argv[1], "newaliases")) return newaliases(argc - 2, argv + 2);
  if (str_equal(argv[1], "query") && argc == 4) return query_map(argv[2], argv[3]);
  if (str_equal(argv[1], "check") && argc == 5) return check_access(argv[2], argv[3], argv[4]);
  die_usage();
  return EX_USAGE;
}
