/*
 * ioc_retain_guard: a Mosquitto 2.1 plugin that refuses retained PUBLISHes on the
 * IOC's topics, except on device status (docs/broker.md, "Retained telemetry").
 *
 * Why a plugin: dynamic-security ACLs ignore the retain flag and `retain_available` is
 * broker-wide, but statuses must stay retained (they are the devices' last wills). The
 * broker hands the retain flag to every MOSQ_EVT_ACL_CHECK callback, in the order the
 * `plugin` lines appear, until one answers something else than DEFER or IGNORE; so this
 * plugin is loaded before dynamic security and either refuses or steps aside.
 *
 * A write (MOSQ_ACL_WRITE: a PUBLISH, or a will at CONNECT) with retain set on a topic
 * matching `retain_deny` (default `ioc/v1/#`) and not matching `retain_allow` (default
 * `ioc/v1/+/+/status`) is refused: MQTT v5 clients get PUBACK "not authorized" at QoS 1
 * and nothing is retained. Everything else returns MOSQ_ERR_PLUGIN_IGNORE ("as if the
 * plugin did not exist"): dynamic security decides on a secured broker, and an anonymous
 * development broker, where no other plugin checks ACLs, still allows it (all plugins
 * answering DEFER would be a denial).
 *
 * Options (plugin_opt_<key> after the `plugin` line):
 *   retain_deny  FILTER   retained writes matching it are refused ...
 *   retain_allow FILTER   ... unless they also match this one
 *
 * Written by the IOC project from the documented plugin interface (mosquitto/broker.h,
 * mosquitto/broker_plugin.h, plugin version 5); no Mosquitto code is copied. Mosquitto's
 * headers are EPL-2.0 OR BSD-3-Clause; this file is Apache-2.0 like the rest of the
 * project. Build: cc -O2 -fPIC -shared -I<mosquitto>/include ioc_retain_guard.c -o
 * ioc_retain_guard.so (the broker resolves the mosquitto_* symbols when it loads it).
 */
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto/broker.h>
#include <mosquitto/broker_plugin.h>

#define GUARD_VERSION "1"

struct guard {
	char *deny;
	char *allow;
};

static struct guard guard;

MOSQUITTO_PLUGIN_DECLARE_VERSION(5);

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct guard *g = userdata;
	bool denied = false, allowed = false;
	const char *client_id;

	(void)event;
	if(ed->access != MOSQ_ACL_WRITE || !ed->retain || ed->topic == NULL){
		return MOSQ_ERR_PLUGIN_IGNORE;
	}
	if(mosquitto_topic_matches_sub(g->deny, ed->topic, &denied) != MOSQ_ERR_SUCCESS
			|| mosquitto_topic_matches_sub(g->allow, ed->topic, &allowed) != MOSQ_ERR_SUCCESS){
		return MOSQ_ERR_ACL_DENIED; /* a topic we cannot read is not retained */
	}
	if(!denied || allowed){
		return MOSQ_ERR_PLUGIN_IGNORE;
	}
	client_id = mosquitto_client_id(ed->client);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "ioc_retain_guard: refused retained publish from %s on %s",
			client_id ? client_id : "?", ed->topic);
	return MOSQ_ERR_ACL_DENIED;
}

static char *option(struct mosquitto_opt *opts, int count, const char *key, const char *fallback)
{
	int i;

	for(i = 0; i < count; i++){
		if(opts[i].key && opts[i].value && strcmp(opts[i].key, key) == 0){
			return strdup(opts[i].value);
		}
	}
	return strdup(fallback);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *opts, int opt_count)
{
	guard.deny = option(opts, opt_count, "retain_deny", "ioc/v1/#");
	guard.allow = option(opts, opt_count, "retain_allow", "ioc/v1/+/+/status");
	if(guard.deny == NULL || guard.allow == NULL){
		return MOSQ_ERR_NOMEM;
	}
	*userdata = &guard;
	mosquitto_plugin_set_info(identifier, "ioc-retain-guard", GUARD_VERSION);
	mosquitto_log_printf(MOSQ_LOG_INFO, "ioc_retain_guard: retained writes on %s refused except %s",
			guard.deny, guard.allow);
	return mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, &guard);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	struct guard *g = userdata;

	(void)opts;
	(void)opt_count;
	if(g){
		free(g->deny);
		free(g->allow);
		g->deny = g->allow = NULL;
	}
	return MOSQ_ERR_SUCCESS;
}
