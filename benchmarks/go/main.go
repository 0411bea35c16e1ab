// Go peer for the ferrogo side-by-side benchmarks. Usage: peers <workload> <size>
// Prints: name<TAB>go<TAB>value<TAB>extra  (value is ns/op, KiB/goroutine for parked, ms for sieve).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func reps() int {
	if s := os.Getenv("BENCH_REPS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 5
}

// median of reps runs of f; f returns elapsed time.
func median(f func() time.Duration) time.Duration {
	r := reps()
	ds := make([]time.Duration, r)
	for i := range ds {
		ds[i] = f()
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return ds[r/2]
}

func procKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, field+":") {
			fs := strings.Fields(l)
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			return n
		}
	}
	return -1
}

func emit(name string, value float64, extra string) {
	fmt.Printf("%s\tgo\t%.2f\t%s\n", name, value, extra)
}

func nsPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

func hwm() string { return fmt.Sprintf("hwm=%dMiB", procKiB("VmHWM")/1024) }

// 1. spawn-and-wait
func spawn(n int) {
	d := median(func() time.Duration {
		var cnt atomic.Int64
		var wg sync.WaitGroup
		t := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { cnt.Add(1); wg.Done() }()
		}
		wg.Wait()
		el := time.Since(t)
		if cnt.Load() != int64(n) {
			panic("spawn: bad count")
		}
		return el
	})
	emit("spawn", nsPer(d, n), fmt.Sprintf("n=%d %s", n, hwm()))
}

// 2. skynet (classic, channels)
func skynetNode(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sum := 0
	for i := 0; i < div; i++ {
		go skynetNode(rc, num+i*(size/div), size/div, div)
	}
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynet(n int) {
	want := n * (n - 1) / 2
	d := median(func() time.Duration {
		t := time.Now()
		c := make(chan int)
		go skynetNode(c, 0, n, 10)
		s := <-c
		el := time.Since(t)
		if s != want {
			panic(fmt.Sprintf("skynet: sum %d != %d", s, want))
		}
		return el
	})
	emit("skynet", nsPer(d, n), fmt.Sprintf("leaves=%d sum=%d %s", n, want, hwm()))
}

// 3. yield ping-pong: two goroutines each yield n times
func yield(n int) {
	d := median(func() time.Duration {
		var wg sync.WaitGroup
		t := time.Now()
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				for i := 0; i < n; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(t)
	})
	emit("yield", nsPer(d, 2*n), fmt.Sprintf("yields=%d", 2*n))
}

// 4. parked goroutine memory: n goroutines blocked on one channel receive
func parked(n int) {
	runtime.GC()
	before := procKiB("VmRSS")
	ch := make(chan int)
	var ready atomic.Int64
	var wg sync.WaitGroup
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { ready.Add(1); <-ch; wg.Done() }()
	}
	for ready.Load() < int64(n) {
		runtime.Gosched()
	}
	time.Sleep(20 * time.Millisecond)
	spawnNs := nsPer(time.Since(t), n)
	after := procKiB("VmRSS")
	close(ch)
	wg.Wait()
	emit("parked", float64(after-before)/float64(n), fmt.Sprintf("n=%d rss_delta=%dMiB spawn+park=%.0fns", n, (after-before)/1024, spawnNs))
}

// 11. sleep: n goroutines each sleeping 1 s at once; wall time, peak RSS, and the peak
// number of goroutines asleep at once (each counts itself in and out; a goroutine samples
// the count every 5 ms, as in every peer), so that RSS per sleeping goroutine compares
// whatever the start rate.
// together (workload sleepall): each goroutine first checks in and waits for a start signal
// given once all have checked in, so all n sleep at once whatever the start rate.
func sleepW(n int, together bool) {
	base := procKiB("VmRSS")
	var asleep atomic.Int64
	stop, peakc := make(chan struct{}), make(chan int64)
	go func() {
		peak := int64(0)
		for {
			if n := asleep.Load(); n > peak {
				peak = n
			}
			select {
			case <-stop:
				peakc <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg, arrived sync.WaitGroup
	start := make(chan struct{})
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		if together {
			arrived.Add(1)
		}
		go func() {
			if together {
				arrived.Done()
				<-start
			}
			asleep.Add(1)
			time.Sleep(time.Second)
			asleep.Add(-1)
			wg.Done()
		}()
	}
	arrived.Wait()
	close(start)
	wg.Wait()
	el := time.Since(t)
	peak := procKiB("VmHWM")
	close(stop)
	live := <-peakc
	perLive := 0.0
	if live > 0 {
		perLive = float64(peak-base) / float64(live)
	}
	name := "sleep"
	if together {
		name = "sleepall"
	}
	emit(name, float64(el.Milliseconds()), fmt.Sprintf("n=%d wall_ms=%d peak_rss_delta=%dMiB peak_asleep=%d kib_per_asleep=%.2f", n, el.Milliseconds(), (peak-base)/1024, live, perLive))
}

// 5. unbuffered ping-pong
func unbuf(n int) {
	d := median(func() time.Duration {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v + 1
			}
			close(pong)
		}()
		t := time.Now()
		for i := 0; i < n; i++ {
			ping <- i
			if <-pong != i+1 {
				panic("unbuf")
			}
		}
		el := time.Since(t)
		close(ping)
		<-pong
		return el
	})
	emit("unbuf", nsPer(d, n), fmt.Sprintf("round_trips=%d", n))
}

// 6. buffered MPMC with p producers and p consumers (p=1: SPSC), cap 1024
func mpmc(name string, n, p int) {
	per := n / p
	total := per * p
	d := median(func() time.Duration {
		ch := make(chan int, 1024)
		var pw, cw sync.WaitGroup
		var got atomic.Int64
		t := time.Now()
		for c := 0; c < p; c++ {
			cw.Add(1)
			go func() {
				k := int64(0)
				for range ch {
					k++
				}
				got.Add(k)
				cw.Done()
			}()
		}
		for q := 0; q < p; q++ {
			pw.Add(1)
			go func() {
				for i := 0; i < per; i++ {
					ch <- i
				}
				pw.Done()
			}()
		}
		pw.Wait()
		close(ch)
		cw.Wait()
		el := time.Since(t)
		if got.Load() != int64(total) {
			panic("mpmc: lost messages")
		}
		return el
	})
	emit(name, nsPer(d, total), fmt.Sprintf("msgs=%d p=%d c=%d cap=1024", total, p, p))
}

// 7. select over 4 producers (cap 1024 each)
func selectW(n int) {
	per := n / 4
	total := per * 4
	d := median(func() time.Duration {
		var cs [4]chan int
		for i := range cs {
			cs[i] = make(chan int, 1024)
		}
		t := time.Now()
		for i := range cs {
			c := cs[i]
			go func() {
				for k := 0; k < per; k++ {
					c <- k
				}
			}()
		}
		sum := 0
		for k := 0; k < total; k++ {
			select {
			case v := <-cs[0]:
				sum += v
			case v := <-cs[1]:
				sum += v
			case v := <-cs[2]:
				sum += v
			case v := <-cs[3]:
				sum += v
			}
		}
		el := time.Since(t)
		if sum != 4*per*(per-1)/2 {
			panic("select: bad sum")
		}
		return el
	})
	emit("select", nsPer(d, total), fmt.Sprintf("msgs=%d producers=4 cap=1024", total))
}

// 8. thread-ring: 503 goroutines, unbuffered channels, token passed n hops
func ring(n int) {
	const N = 503
	d := median(func() time.Duration {
		chs := make([]chan int, N)
		for i := range chs {
			chs[i] = make(chan int)
		}
		done := make(chan int)
		for i := 0; i < N; i++ {
			in, out, id := chs[i], chs[(i+1)%N], i
			go func() {
				for t := range in {
					if t == 0 {
						done <- id
						continue
					}
					out <- t - 1
				}
			}()
		}
		t := time.Now()
		chs[0] <- n
		<-done
		el := time.Since(t)
		for _, c := range chs {
			close(c)
		}
		return el
	})
	emit("ring", nsPer(d, n), fmt.Sprintf("hops=%d ring=503", n))
}

// 9. prime sieve (classic; the filter chain is leaked, blocked, as in the original)
func generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

func filter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

func sieve(n int) {
	last := 0
	d := median(func() time.Duration {
		t := time.Now()
		ch := make(chan int)
		go generate(ch)
		for i := 0; i < n; i++ {
			prime := <-ch
			last = prime
			ch1 := make(chan int)
			go filter(ch, ch1, prime)
			ch = ch1
		}
		return time.Since(t)
	})
	emit("sieve", float64(d.Nanoseconds())/1e6, fmt.Sprintf("primes=%d last=%d (ms total)", n, last))
}

// 10. mutex contention: g goroutines x iters increments
func mutex(g, iters int) {
	d := median(func() time.Duration {
		var mu sync.Mutex
		cnt := 0
		var wg sync.WaitGroup
		t := time.Now()
		for i := 0; i < g; i++ {
			wg.Add(1)
			go func() {
				for k := 0; k < iters; k++ {
					mu.Lock()
					cnt++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		el := time.Since(t)
		if cnt != g*iters {
			panic("mutex: bad count")
		}
		return el
	})
	emit("mutex", nsPer(d, g*iters), fmt.Sprintf("goroutines=%d iters=%d", g, iters))
}

func main() {
	runtime.GOMAXPROCS(2)
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peers <workload> <size>")
		os.Exit(2)
	}
	w := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad size")
		os.Exit(2)
	}
	switch w {
	case "spawn":
		spawn(n)
	case "skynet":
		skynet(n)
	case "yield":
		yield(n)
	case "parked":
		parked(n)
	case "unbuf":
		unbuf(n)
	case "spsc":
		mpmc("spsc", n, 1)
	case "mpmc4":
		mpmc("mpmc4", n, 4)
	case "mpmc100":
		mpmc("mpmc100", n, 100)
	case "select":
		selectW(n)
	case "ring":
		ring(n)
	case "sieve":
		sieve(n)
	case "sleep":
		sleepW(n, false)
	case "sleepall":
		sleepW(n, true)
	case "mutex":
		// size = total ops; 1000 goroutines
		mutex(1000, n/1000)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", w)
		os.Exit(2)
	}
}
