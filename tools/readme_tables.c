/*
 * readme_tables.c: print README's generated tables from the tables in the
 * code, for tools/readme-tables. "options": the Options table, one row per
 * row of CONF_OPTIONS (src/conf.h); "names": the bm_ctl names table, every
 * name ctl_info lists (src/ctl.c: its own names, "opt." + each option, and
 * each figure scope times the rows of stats' tables, src/stats.h). Built
 * with BM_FAULT_INJECT so that the fault builds' names are listed too.
 */
#include "conf.h"
#include "ctl.h"

#include <stdio.h>
#include <string.h>

static void print_options(void) {
	printf("| option | default | meaning |\n|---|---|---|\n");
	for (unsigned i = 0; conf_option(i) != NULL; i++) {
		const conf_opt_t *o = conf_option(i);
		printf("| `%s` | `%s` | %s |\n", o->name, o->def, o->doc);
	}
}

static void print_names(void) {
	ctl_info_t c;
	printf("| name | type | unit | read | meaning |\n|---|---|---|---|---|\n");
	for (unsigned i = 0; ctl_info(i, &c); i++) {
		const char *q = strncmp(c.type, "action", 6) == 0 ? "" : "`";
		printf("| `%s` | %s%s%s | %s | %s | %s |\n", c.name, q, c.type, q,
		    c.unit, c.read, c.doc);
	}
}

int main(int argc, char **argv) {
	if (argc == 2 && strcmp(argv[1], "options") == 0)
		print_options();
	else if (argc == 2 && strcmp(argv[1], "names") == 0)
		print_names();
	else {
		fprintf(stderr, "usage: %s options|names\n", argv[0]);
		return 2;
	}
	return 0;
}
