/* The readers' look-ahead (capture.h): frames decoded as they are pushed, handed on
   AHEAD_DEPTH frames later, their state fetched into the cache meanwhile. */
#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/worker.h"

static void ahead_take(struct worker *w, struct ahead *ah)
{
    struct packet_ahead *a = &ah->a[ah->head];
    ah->head = (ah->head + 1) % (AHEAD_DEPTH + 1);
    ah->n--;
    /* the frames still waiting, one stage further each (the newest asked for its bucket
       when it was pushed): its record, the next of its chain while the one fetched is
       another flow's, its transport's state, its engine's state, each once the stage
       before has had a frame's time */
    for (unsigned age = 1; age < ah->n; age++)
        decode_prefetch(w, &ah->a[(ah->head + ah->n - 1 - age) % (AHEAD_DEPTH + 1)]);
    w->pcap_cnt = a->p.pcap_cnt;
    w->now_us = a->p.ts_us;
    uint64_t clock = a->p.clock_us > a->p.ts_us ? a->p.clock_us : a->p.ts_us;
    if (clock > w->clock_us)
        w->clock_us = clock;
    if (w->order_at)
        w->order_at(w, a->p.order_seq, a->p.answers_seq); /* before anything of it reaches
                                                             a shared table */
    decode_packet_ahead(w, a);
}

void ahead_push(struct worker *w, struct ahead *ah, const struct packet *p)
{
    struct packet_ahead *a = &ah->a[(ah->head + ah->n) % (AHEAD_DEPTH + 1)];
    a->p.data = p->data;
    a->p.caplen = p->caplen;
    a->p.wirelen = p->wirelen;
    a->p.ts_us = p->ts_us;
    a->p.linktype = p->linktype;
    a->p.pcap_cnt = p->pcap_cnt;
    a->p.order_seq = p->order_seq;
    a->p.clock_us = p->clock_us;
    a->p.answers_seq = p->answers_seq;
    decode_ahead(w, a);
    if (++ah->n > AHEAD_DEPTH)
        ahead_take(w, ah);
}

void ahead_drain(struct worker *w, struct ahead *ah)
{
    while (ah->n)
        ahead_take(w, ah);
}
