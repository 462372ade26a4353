// Command etcd_load drives closed-loop puts against an etcd v3 cluster and
// prints one JSON object: ops/s, p50, p90, p99 and max latency in ms.
//
// It stands in for etcd's tools/benchmark ("benchmark put"), which Debian
// does not ship, so that tools/etcd_compare.sh can put etcd beside our Raft
// (issue 14, docs/benchmarks.md "Raft beside etcd"). It is built from
// Debian's golang-etcd-server-dev (clientv3) by tools/etcd_load/build.sh, in
// GOPATH mode with no network.
//
// Shape, chosen to match `bftctl cluster --outstanding 1` (tools/loadgen.c):
// each of -clients goroutines keeps exactly one put in flight and issues the
// next as soon as the previous one is acknowledged; the clients share
// -conns gRPC connections round-robin. Every put writes a new key (like a new
// order: the store grows), -key-size bytes, with a -val-size byte value.
// Percentiles use the same rank as tools/loadgen.c, so the two tools'
// figures mean the same thing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
)

// Bounds on every input (docs/style.md: every limit is bounded).
const (
	maxClients  = 1024
	maxDuration = 600 * time.Second
	maxKeySize  = 1024
	maxValSize  = 1 << 20
	// Latency samples kept in all (4 bytes each): far above what 600 s of
	// load on this kind of machine produces; past it ops still count, and
	// the output says the percentiles are over a prefix.
	maxSamples = 1 << 24
)

type result struct {
	Endpoints  string  `json:"endpoints"`
	Clients    int     `json:"clients"`
	Conns      int     `json:"conns"`
	KeySize    int     `json:"key_size"`
	ValSize    int     `json:"val_size"`
	DurationS  float64 `json:"duration_s"`
	Ops        uint64  `json:"ops"`
	Errors     uint64  `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	OpsS       float64 `json:"ops_s"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Truncated  bool    `json:"samples_truncated"`
}

type worker struct {
	lat      []uint32 // microseconds, one per acknowledged put
	capLat   int
	ops      uint64
	errors   uint64
	firstErr error
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcd_load: "+format+"\n", a...)
	os.Exit(2)
}

// key makes the key of client c's n-th put: "c<c>-<n>" left-padded with
// zeros to size bytes, so that every key has the same length.
func key(c int, n uint64, size int) (string, error) {
	k := fmt.Sprintf("c%d-%d", c, n)
	if len(k) > size {
		return "", fmt.Errorf("key %q does not fit in %d bytes (raise -key-size)", k, size)
	}
	return strings.Repeat("0", size-len(k)) + k, nil
}

// pct is tools/loadgen.c's pct(): the sample at rank round(p * (n - 1)).
func pct(v []uint32, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return float64(v[int(p*float64(len(v)-1)+0.5)]) / 1000.0
}

func run(w *worker, id int, cli *clientv3.Client, val string, keySize int,
	end time.Time, timeout time.Duration) {
	for n := uint64(1); time.Now().Before(end); n++ {
		k, err := key(id, n, keySize)
		if err != nil {
			w.errors++
			w.firstErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		t0 := time.Now()
		_, err = cli.Put(ctx, k, val)
		d := time.Since(t0)
		cancel()
		if err != nil {
			w.errors++
			if w.firstErr == nil {
				w.firstErr = err
			}
			continue
		}
		w.ops++
		if len(w.lat) < w.capLat {
			us := d.Microseconds()
			if us > int64(^uint32(0)) {
				us = int64(^uint32(0))
			}
			w.lat = append(w.lat, uint32(us))
		}
	}
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs or host:port")
	clients := flag.Int("clients", 1, "closed-loop clients, one put in flight each (1..1024)")
	conns := flag.Int("conns", 1, "gRPC connections the clients share round-robin (1..clients)")
	duration := flag.Duration("duration", 8*time.Second, "load time (up to 600s)")
	keySize := flag.Int("key-size", 12, "key bytes")
	valSize := flag.Int("val-size", 30, "value bytes")
	timeout := flag.Duration("timeout", 5*time.Second, "per-put and dial timeout")
	flag.Parse()

	if flag.NArg() != 0 {
		fail("unexpected argument %q", flag.Arg(0))
	}
	if *clients < 1 || *clients > maxClients {
		fail("-clients wants 1..%d, got %d", maxClients, *clients)
	}
	if *conns < 1 || *conns > *clients {
		fail("-conns wants 1..clients (%d), got %d", *clients, *conns)
	}
	if *duration <= 0 || *duration > maxDuration {
		fail("-duration wants (0, %v], got %v", maxDuration, *duration)
	}
	if *keySize < 8 || *keySize > maxKeySize {
		fail("-key-size wants 8..%d, got %d", maxKeySize, *keySize)
	}
	if *valSize < 0 || *valSize > maxValSize {
		fail("-val-size wants 0..%d, got %d", maxValSize, *valSize)
	}
	if *timeout <= 0 || *timeout > time.Minute {
		fail("-timeout wants (0, 1m], got %v", *timeout)
	}
	eps := strings.Split(*endpoints, ",")

	// The client logs only errors: the JSON on stdout is the output.
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	logCfg.OutputPaths = []string{"stderr"}
	logCfg.ErrorOutputPaths = []string{"stderr"}

	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: *timeout, LogConfig: &logCfg})
		if err != nil {
			fail("connect %s: %v", *endpoints, err)
		}
		defer c.Close()
		// One put per connection before the clock starts, so that the
		// measured window holds no connection setup (the etcd cluster is
		// already up and has a leader; tools/etcd_compare.sh waits for it).
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		_, err = c.Put(ctx, fmt.Sprintf("warmup-%d", i), "x")
		cancel()
		if err != nil {
			fail("warm-up put on %s: %v", *endpoints, err)
		}
		cs[i] = c
	}

	val := strings.Repeat("v", *valSize)
	ws := make([]worker, *clients)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(*duration)
	for i := range ws {
		ws[i].capLat = maxSamples / *clients
		ws[i].lat = make([]uint32, 0, 1024)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			run(&ws[i], i, cs[i%len(cs)], val, *keySize, end, *timeout)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := result{Endpoints: *endpoints, Clients: *clients, Conns: *conns, KeySize: *keySize,
		ValSize: *valSize, DurationS: elapsed.Seconds()}
	var all []uint32
	for i := range ws {
		r.Ops += ws[i].ops
		r.Errors += ws[i].errors
		if r.FirstError == "" && ws[i].firstErr != nil {
			r.FirstError = ws[i].firstErr.Error()
		}
		if uint64(len(ws[i].lat)) < ws[i].ops {
			r.Truncated = true
		}
		all = append(all, ws[i].lat...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	r.OpsS = float64(r.Ops) / elapsed.Seconds()
	r.P50Ms, r.P90Ms, r.P99Ms = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99)
	if len(all) > 0 {
		r.MaxMs = float64(all[len(all)-1]) / 1000.0
	}
	out, err := json.Marshal(&r)
	if err != nil {
		fail("encode result: %v", err)
	}
	fmt.Println(string(out))
	if r.Errors > 0 || r.Ops == 0 {
		os.Exit(1)
	}
}
