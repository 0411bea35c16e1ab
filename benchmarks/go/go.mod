module ferrogo.bench/peers

go 1.19
