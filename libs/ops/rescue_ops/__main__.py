def main() -> None:
    raise SystemExit("rescue-ops: not built yet")


if __name__ == "__main__":
    main()
