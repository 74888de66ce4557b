package handlers_test

import (
	"fmt"

	"github.com/pushgate/pushgate/handlers"
)

// WeCom checks a callback URL with a GET whose echostr is sealed: verify
// and decrypt it, and answer the plaintext. These are WeCom's own sample
// values.
func ExampleWeComCrypter_VerifyURL() {
	w, err := handlers.NewWeComCrypter("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
	if err != nil {
		panic(err)
	}
	plain, err := w.VerifyURL("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
		"P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
	fmt.Println(string(plain), err)
	// Output:
	// 1616140317555161061 <nil>
}
