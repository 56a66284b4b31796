use livenstore::DomainEvent;

#[derive(DomainEvent)]
union UserCreated {
    id: u64,
}

fn main() {}
