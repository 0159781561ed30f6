// A Go TCP server that sets no socket option of its own: it makes its
// socket, bind and listen calls itself (as the Go runtime does, without
// libc), says READY (or BINDERR and the errno), and answers each
// connection with its id and the peer's port, closing it itself. On
// SIGTERM it finishes the connection in hand and exits.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1", "IPv4 address to bind")
	port := flag.Int("port", 0, "port to bind")
	id := flag.String("id", fmt.Sprint(os.Getpid()), "what to answer")
	serve := flag.Int("serve", -1, "answers to give, then exit")
	flag.Parse()

	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Println("SOCKETERR", err)
		os.Exit(3)
	}
	sa := &syscall.SockaddrInet4{Port: *port}
	copy(sa.Addr[:], net.ParseIP(*addr).To4())
	if err := syscall.Bind(fd, sa); err != nil {
		errno, _ := err.(syscall.Errno)
		fmt.Printf("BINDERR %d %v\n", int(errno), err)
		os.Exit(3)
	}
	if err := syscall.Listen(fd, 128); err != nil {
		fmt.Println("LISTENERR", err)
		os.Exit(3)
	}
	ln, err := net.FileListener(os.NewFile(uintptr(fd), "listener"))
	if err != nil {
		fmt.Println("FILEERR", err)
		os.Exit(3)
	}
	local := ln.Addr().(*net.TCPAddr)
	fmt.Printf("READY %s %d\n", local.IP, local.Port)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	conns := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	answer := func(c net.Conn) {
		peer := c.RemoteAddr().(*net.TCPAddr)
		fmt.Fprintf(c, "%s %d\n", *id, peer.Port)
		c.Close()
	}
	for served := 0; *serve < 0 || served < *serve; served++ {
		select {
		case <-stop:
			// Stop accepting; answer what was accepted already.
			ln.Close()
			for c := range conns {
				answer(c)
			}
			return
		case c, ok := <-conns:
			if !ok {
				return
			}
			answer(c)
		}
	}
}
