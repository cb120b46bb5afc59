//! The one diesel schema both backends share (types: BigInt, Text, Integer, Bool, Timestamp, Date).

diesel::table! {
    partners (id) {
        id -> BigInt,
        name -> Text,
        name_folded -> Text,
        kind -> Text,
        ags -> Nullable<Text>,
        state -> Nullable<Text>,
        district -> Nullable<Text>,
        population -> Nullable<BigInt>,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
