"""A faithful re-creation of the teaching chat trio_chat grew out of.

Thread per client, a list of client sockets under a threading.Lock, the name
read first, joins and leaves announced, every received chunk relayed to all
other clients as ``name: text`` with a blocking ``sendall`` made while holding
the lock. Kept as the benchmark's baseline: do not "fix" it.

    python -m trio_chat.benchmarks.threaded_original [PORT]
"""

import socket
import sys
import threading

HOST = "0.0.0.0"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5000

clientes = []
lock = threading.Lock()


def broadcast(mensaje, emisor=None):
    with lock:
        for cliente in clientes:
            if cliente is not emisor:
                try:
                    cliente.sendall(mensaje)
                except OSError:
                    continue


def manejar_cliente(conexion, direccion):
    nombre = "?"
    try:
        nombre = conexion.recv(1024).decode("utf-8").strip()
        if not nombre:
            conexion.close()
            return
        with lock:
            clientes.append(conexion)
        broadcast(f"*** {nombre} joined\n".encode(), conexion)
        # Not in the original, which sends the newcomer nothing: the load
        # generator needs to know when it is registered.
        conexion.sendall(f"*** Welcome, {nombre}!\n".encode())
        while True:
            datos = conexion.recv(1024)
            if not datos:
                break
            texto = datos.decode("utf-8", errors="replace")
            if texto.strip() == "/quit":
                break
            broadcast(f"{nombre}: {texto}".encode(), conexion)
    except OSError as error:
        print(f"error with {direccion}: {error}")
    finally:
        with lock:
            if conexion in clientes:
                clientes.remove(conexion)
        broadcast(f"*** {nombre} left\n".encode())
        conexion.close()


def main():
    servidor = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    servidor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    servidor.bind((HOST, PORT))
    servidor.listen(128)
    print(f"listening on {HOST}:{servidor.getsockname()[1]}", flush=True)
    try:
        while True:
            conexion, direccion = servidor.accept()
            hilo = threading.Thread(target=manejar_cliente, args=(conexion, direccion))
            hilo.daemon = True
            hilo.start()
    except KeyboardInterrupt:
        print("server stopped")
    finally:
        servidor.close()


if __name__ == "__main__":
    main()
