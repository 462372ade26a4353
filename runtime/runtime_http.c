/* See runtime_http.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "runtime/runtime_http.h"

struct rt_http_page {
    pthread_mutex_t mu;
    char page[RT_HTTP_PAGE_MAX];
    size_t len;
    const char *content_type; /* a string literal of the caller's */
    nng_http_server *srv;
    nng_http_handler *h;
};

static void handle(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct rt_http_page *p = nng_http_handler_get_data(h);
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    pthread_mutex_lock(&p->mu);
    int rv = nng_http_res_copy_data(res, p->page, p->len);
    pthread_mutex_unlock(&p->mu);
    if (rv == 0) rv = nng_http_res_set_header(res, "Content-Type", p->content_type);
    if (rv != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

int rt_http_page_start(struct rt_http_page **out, const char *what, const char *url,
                       const char *path, const char *content_type, const char *initial, char *err,
                       size_t errlen)
{
    struct rt_http_page *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s on %s: out of memory", what, url);
        return -1;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->content_type = content_type;
    p->len = (size_t)snprintf(p->page, sizeof p->page, "%s", initial);
    nng_url *u = NULL;
    nng_http_handler *h = NULL;
    int rv = nng_url_parse(&u, url);
    if (rv == 0) rv = nng_http_server_hold(&p->srv, u);
    if (rv == 0) rv = nng_http_handler_alloc(&h, path, handle);
    if (rv == 0) rv = nng_http_handler_set_data(h, p, NULL);
    if (rv == 0) rv = nng_http_server_add_handler(p->srv, h);
    if (rv == 0) p->h = h;
    if (rv == 0) rv = nng_http_server_start(p->srv);
    if (u) nng_url_free(u);
    if (rv != 0) {
        snprintf(err, errlen, "%s on %s: %s", what, url, nng_strerror(rv));
        return -1; /* the half-built server is left to process exit */
    }
    *out = p;
    return 0;
}

void rt_http_page_publish(struct rt_http_page *p, const char *page, size_t len)
{
    if (len >= sizeof p->page) return;
    pthread_mutex_lock(&p->mu);
    memcpy(p->page, page, len);
    p->len = len;
    pthread_mutex_unlock(&p->mu);
}

void rt_http_page_stop(struct rt_http_page *p)
{
    if (!p) return;
    /* The server may be shared with another page (same address): take our
     * handler off it before freeing the page it reads, then drop our start
     * and our hold, so a replica created again in this process can serve
     * the same address. */
    if (p->h && nng_http_server_del_handler(p->srv, p->h) == 0)
        nng_http_handler_free(p->h); /* taken off: ours to free */
    nng_http_server_stop(p->srv);
    nng_http_server_release(p->srv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
