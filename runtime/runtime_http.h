/* One page served over nng's HTTP server: the metrics page (/metrics) and
 * the status page (/status) of a replica. The main loop renders a page and
 * publishes a copy; the HTTP handler (an nng thread) only copies the last
 * published page under a mutex, so it never touches replica state. Two
 * pages at the same address share one nng server (nng_http_server_hold). */
#ifndef BFT_RUNTIME_HTTP_H
#define BFT_RUNTIME_HTTP_H

#include <stddef.h>

#define RT_HTTP_PAGE_MAX 16384 /* the largest page published (status at n=16: ~1.5 KiB) */

struct rt_http_page;
/* Serve `initial` at url + path ("http://10.0.0.2:9100", "/status") with
 * this Content-Type. 0, or -1 with err ("WHAT on URL: reason"). */
int rt_http_page_start(struct rt_http_page **out, const char *what, const char *url,
                       const char *path, const char *content_type, const char *initial, char *err,
                       size_t errlen);
/* Replace the page (copied); a page of RT_HTTP_PAGE_MAX bytes or more is
 * not published (the last one stays). */
void rt_http_page_publish(struct rt_http_page *p, const char *page, size_t len);
/* Stop serving and free; NULL is ignored. */
void rt_http_page_stop(struct rt_http_page *p);

#endif
