// Command hello prints a greeting; testenv's tests build it statically.
package main

import "fmt"

func main() { fmt.Println("hello from testenv") }
