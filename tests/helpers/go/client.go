// A Go TCP client: N connections to ADDR from G goroutines, each read to
// the end; prints how many were answered and how many failed, then every
// distinct first word of an answer (a server's id) on one line.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "", "host:port")
	n := flag.Int("n", 1, "connections in all")
	g := flag.Int("g", 1, "goroutines")
	flag.Parse()

	var mu sync.Mutex
	ok, failed := 0, 0
	ids := map[string]bool{}
	errs := map[string]int{}
	work := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < *g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
				var data []byte
				if err == nil {
					data, err = io.ReadAll(c)
					c.Close()
				}
				mu.Lock()
				if err == nil && len(data) > 0 {
					ok++
					ids[strings.Fields(string(data))[0]] = true
				} else {
					failed++
					if err != nil {
						errs[err.Error()]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	fmt.Printf("OK %d FAILED %d\n", ok, failed)
	for e, c := range errs {
		fmt.Fprintf(os.Stderr, "%d x %s\n", c, e)
	}
	var list []string
	for id := range ids {
		list = append(list, id)
	}
	fmt.Println("IDS", strings.Join(list, " "))
}
