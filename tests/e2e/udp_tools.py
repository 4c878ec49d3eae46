#!/usr/bin/env python3
"""Raw UDP tools for the udp tunnel's e2e test (udp_tunnel_test.sh), what bash cannot do:

  udp_tools.py datagrams PCAP SRC DST TYPE   the UDP payloads (hex, one a line) in the pcap
                                             file from SRC to DST whose first byte is TYPE
  udp_tools.py send FROM TO PORT HEX COUNT   sends the datagram HEX COUNT times from FROM
  udp_tools.py flip HEX INDEX                HEX with the low bit of byte INDEX flipped
  udp_tools.py flood TO PORT COUNT           COUNT datagrams of random bytes (1-1500 each)

Addresses are IPv4. The pcap reader knows Ethernet and Linux cooked (SLL) captures."""
import os
import random
import socket
import struct
import sys


def datagrams(path, src, dst, kind):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    link = struct.unpack("<I", data[20:24])[0]
    at = 24
    while at + 16 <= len(data):
        caplen = struct.unpack("<I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        ip = frame[14:] if link == 1 else frame[16:]
        if len(ip) < 28 or ip[9] != 17:
            continue
        payload = ip[(ip[0] & 15) * 4 + 8:]
        if (socket.inet_ntoa(ip[12:16]) == src and socket.inet_ntoa(ip[16:20]) == dst
                and payload and payload[0] == kind):
            print(payload.hex())


def send(src, dst, port, payload, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for _ in range(count):
        s.sendto(payload, (dst, port))


def flood(dst, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(count):
        s.sendto(os.urandom(random.randint(1, 1500)), (dst, port))


def main(argv):
    if len(argv) == 5 and argv[0] == "datagrams":
        datagrams(argv[1], argv[2], argv[3], int(argv[4]))
    elif len(argv) == 6 and argv[0] == "send":
        send(argv[1], argv[2], int(argv[3]), bytes.fromhex(argv[4]), int(argv[5]))
    elif len(argv) == 3 and argv[0] == "flip":
        b = bytearray.fromhex(argv[1])
        b[int(argv[2])] ^= 1
        print(b.hex())
    elif len(argv) == 4 and argv[0] == "flood":
        flood(argv[1], int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
