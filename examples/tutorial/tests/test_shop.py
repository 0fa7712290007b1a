# --8<-- [start:first]
def test_shop_quotes_a_price(service_client):
    shop = service_client("shop")

    response = shop.get("/quote/apple")

    assert response.status_code == 200
    assert response.json() == {"item": "apple", "total": "0.30"}


# --8<-- [end:first]


# --8<-- [start:fault]
def test_shop_says_503_while_prices_is_down(faults, service_client):
    shop = service_client("shop")

    with faults.down("prices"):  # docker stop, for real
        assert shop.get("/quote/apple").status_code == 503

    assert shop.get("/quote/apple").status_code == 200  # healed and checked


# --8<-- [end:fault]
