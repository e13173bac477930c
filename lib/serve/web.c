/* web.c - the status page over HTTP: the pages and the forms that ack,
 * unack and silence */
#include "serve/http.h"

int aq_web_index(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_api_not_yet(req, resp);
}

int aq_web_check(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_api_not_yet(req, resp);
}

int aq_web_ack(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_api_not_yet(req, resp);
}

int aq_web_unack(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_api_not_yet(req, resp);
}

int aq_web_silence(struct aq_http_request *req, struct aq_http_response *resp)
{
	return aq_api_not_yet(req, resp);
}
