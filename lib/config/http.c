/* http.c - the `http` section of alertq.yaml: where alertq serve listens and
 * the tokens it accepts */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_internal.h"

/* Token names appear in basic auth (user = name, so no ':') and in "by" of
 * acknowledgements: letters, digits, '.', '_', '-'. */
static int token_name_ok(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

static int env_name_ok(const char *name)
{
	if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (const char *p = name + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

/* ADDR:PORT with a port 1..65535; ADDR an IPv4 address or name, or an IPv6
 * address in brackets. 0 or -1. */
static int listen_ok(const char *text)
{
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text)
		return -1;
	if (text[0] == '[' && colon[-1] != ']')
		return -1;
	if (text[0] != '[' && memchr(text, ':', (size_t)(colon - text)))
		return -1;
	const char *port = colon + 1;
	if (!*port || strlen(port) > 5)
		return -1;
	for (const char *p = port; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	long n = strtol(port, NULL, 10);
	return n >= 1 && n <= 65535 ? 0 : -1;
}

static void load_token(struct loader *ld, struct aq_http_token *t, yaml_node_t *n, struct named *names,
		       size_t *nnames)
{
	static const char *const keys[] = { "name", "role", "token_env" };
	static const char *const roles[] = {
		[AQ_ROLE_READ] = "read", [AQ_ROLE_OPERATE] = "operate", [AQ_ROLE_INGEST] = "ingest"
	};
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, "an http token", "an http token", keys, NELEM(keys), v,
			  " (name, role, token_env)") != 0)
		return;
	for (size_t i = 0; i < NELEM(keys); i++) {
		if (!v[i]) {
			cfg_problem(ld, cfg_node_line(n), "missing '%s' in an http token", keys[i]);
			return;
		}
	}
	const char *name = cfg_want_name(ld, v[0], "an http token's 'name'");
	if (!name)
		return;
	if (!token_name_ok(name)) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(v[0]),
			    "http token name '%s' may hold only letters, digits, '.', '_' and '-'",
			    cfg_subj(&s, name));
		return;
	}
	t->name = aq_strdup(name);
	names[*nnames].name = t->name;
	names[*nnames].line = t->line;
	(*nnames)++;
	const char *role = cfg_want_string(ld, v[1], "'role'");
	if (!role)
		return;
	size_t r;
	for (r = 0; r < NELEM(roles); r++)
		if (strcmp(role, roles[r]) == 0)
			break;
	if (r == NELEM(roles)) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(v[1]), "unknown role '%s' (read, ingest or operate)",
			    cfg_subj(&s, role));
		return;
	}
	t->role = (enum aq_http_role)r;
	if (cfg_set_text(ld, v[2], "'token_env'", &t->token_env) != 0)
		return;
	if (!env_name_ok(t->token_env)) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(v[2]), "'token_env' '%s' is not an environment variable name",
			    cfg_subj(&s, t->token_env));
		return;
	}
	/* not set: the token is unusable; serve says so when it starts */
	t->token = cfg_from_env(t->token_env);
}

void cfg_load_http(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "listen", "tokens" };
	struct aq_config *cfg = ld->cfg;
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, "'http'", "http", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (v[0] && cfg_set_text(ld, v[0], "'listen'", &cfg->http_listen) == 0 &&
	    listen_ok(cfg->http_listen) != 0) {
		struct subject s;
		cfg_problem(ld, cfg_node_line(v[0]), "'listen' '%s' is not ADDR:PORT (port 1..65535)",
			    cfg_subj(&s, cfg->http_listen));
	}
	if (!v[1] || cfg_is_null(v[1]) || cfg_want_list(ld, v[1], "'tokens'") != 0)
		return;
	size_t count = cfg_node_count(v[1]);
	if (count == 0)
		return;
	if (count > AQ_HTTP_TOKENS_MAX) {
		cfg_problem(ld, cfg_node_line(v[1]), "more than %d http tokens", AQ_HTTP_TOKENS_MAX);
		return;
	}
	cfg->http_tokens = cfg_xcalloc(count, sizeof(*cfg->http_tokens));
	struct named *names = cfg_xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_item_t *item = v[1]->data.sequence.items.start; item < v[1]->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		struct aq_http_token *t = &cfg->http_tokens[cfg->nhttp_tokens++];
		t->line = cfg_node_line(in);
		load_token(ld, t, in, names, &nnames);
	}
	cfg_sort_names(ld, names, nnames, "http token");
	free(names);
}
