"""Workers for the order_fulfilment example (see README)."""

import zlib

import flowkit

PRICES = {"book": 12.5, "pen": 1.25, "lamp": 30.0}
_attempts = {"charge": 0}


@flowkit.worker_task(task_definition_name="check_stock")
def check_stock(items: list) -> dict:
    total = sum(PRICES.get(i, 0.0) for i in items)
    return {"available": all(i in PRICES for i in items), "total": total, "count": len(items)}


@flowkit.worker_task(task_definition_name="charge_card")
def charge_card(amount: float, card: str) -> dict:
    _attempts["charge"] += 1
    if _attempts["charge"] < 3:
        raise ConnectionError(f"payment service unavailable (attempt {_attempts['charge']})")
    return {"paymentId": f"pay-{card[-4:]}-{int(amount * 100)}"}


@flowkit.worker_task(task_definition_name="pack")
def pack(items: list) -> dict:
    print(f"packing {len(items)} item(s)")
    return {"boxes": 1 + len(items) // 3}


@flowkit.worker_task(task_definition_name="ship")
def ship(address: str) -> dict:
    return {"tracking": f"TRK-{zlib.crc32(address.encode()) % 10**6:06d}"}
