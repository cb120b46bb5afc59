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
        external_refs -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        display_name -> Nullable<Text>,
        email -> Nullable<Text>,
        role -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        credentials_version -> BigInt,
    }
}

diesel::table! {
    user_partners (user_id, partner_id) {
        user_id -> BigInt,
        partner_id -> BigInt,
    }
}

diesel::table! {
    service_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_hash -> Text,
        role -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    service_token_partners (token_id, partner_id) {
        token_id -> BigInt,
        partner_id -> BigInt,
    }
}

diesel::table! {
    changes (id) {
        id -> BigInt,
        resource -> Text,
        record_id -> BigInt,
        op -> Text,
        at -> Timestamp,
        etag -> Nullable<Text>,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    login_failures (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Timestamp,
    }
}

diesel::joinable!(user_partners -> users (user_id));
diesel::joinable!(user_partners -> partners (partner_id));
diesel::joinable!(service_token_partners -> service_tokens (token_id));
diesel::joinable!(service_token_partners -> partners (partner_id));

diesel::allow_tables_to_appear_in_same_query!(
    contacts,
    contact_fields,
    cooperations,
    cooperation_members,
    fields,
    partners,
    users,
    user_partners,
    service_tokens,
    service_token_partners,
    settings,
    changes,
    login_failures,
    measures,
    measure_partners,
    measure_history,
    external_refs
);

diesel::table! {
    fields (id) {
        id -> BigInt,
        key -> Text,
        name_de -> Text,
        name_en -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        external_refs -> Text,
    }
}

diesel::table! {
    cooperations (id) {
        id -> BigInt,
        name -> Text,
        name_folded -> Text,
        description -> Nullable<Text>,
        status -> Text,
        started_on -> Nullable<Date>,
        ended_on -> Nullable<Date>,
        funding_programme -> Nullable<Text>,
        funding_amount_eur -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        external_refs -> Text,
        requires_council_approval -> Bool,
    }
}

diesel::table! {
    cooperation_members (id) {
        id -> BigInt,
        cooperation_id -> BigInt,
        partner_id -> BigInt,
        role -> Text,
        joined_on -> Nullable<Date>,
        left_on -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(cooperation_members -> cooperations (cooperation_id));
diesel::joinable!(cooperation_members -> partners (partner_id));

diesel::table! {
    contacts (id) {
        id -> BigInt,
        partner_id -> BigInt,
        name -> Text,
        name_folded -> Text,
        function -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        phone_normalized -> Nullable<Text>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        external_refs -> Text,
    }
}

diesel::table! {
    contact_fields (contact_id, field_id) {
        contact_id -> BigInt,
        field_id -> BigInt,
    }
}

diesel::joinable!(contacts -> partners (partner_id));
diesel::joinable!(contact_fields -> contacts (contact_id));
diesel::joinable!(contact_fields -> fields (field_id));

diesel::table! {
    measures (id) {
        id -> BigInt,
        cooperation_id -> BigInt,
        field_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        title -> Text,
        title_folded -> Text,
        summary -> Nullable<Text>,
        description -> Nullable<Text>,
        status -> Text,
        resume_status -> Nullable<Text>,
        horizon -> Nullable<Text>,
        benefit -> Nullable<Integer>,
        cost -> Nullable<Integer>,
        effort -> Nullable<Integer>,
        estimated_cost_eur -> Nullable<BigInt>,
        priority_score -> Nullable<Integer>,
        priority_rank -> Integer,
        lead_partner_id -> Nullable<BigInt>,
        responsible_partner_id -> Nullable<BigInt>,
        responsible_contact_id -> Nullable<BigInt>,
        planned_start -> Nullable<Date>,
        planned_end -> Nullable<Date>,
        planned_end_rank -> Date,
        description_signed_on -> Nullable<Date>,
        progress -> Integer,
        council_refs -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        partner_ids -> Nullable<Text>,
        external_refs -> Text,
        councils_agreed -> Bool,
        annual_cost_before_eur -> Nullable<BigInt>,
        annual_cost_after_eur -> Nullable<BigInt>,
        commitment_years -> Nullable<Integer>,
        savings_eur -> Nullable<BigInt>,
        savings_percent_tenths -> Nullable<Integer>,
        signatory_partner_ids -> Nullable<Text>,
        progress_manual -> Bool,
        working_group_id -> Nullable<BigInt>,
        decision_count -> Integer,
        sign_off_count -> Integer,
    }
}

diesel::table! {
    measure_partners (measure_id, partner_id) {
        measure_id -> BigInt,
        partner_id -> BigInt,
    }
}

diesel::table! {
    measure_history (id) {
        id -> BigInt,
        measure_id -> BigInt,
        event -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        comment -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(measures -> cooperations (cooperation_id));
diesel::joinable!(measures -> fields (field_id));
diesel::joinable!(measure_partners -> measures (measure_id));
diesel::joinable!(measure_history -> measures (measure_id));

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        description -> Nullable<Text>,
        resources -> Text,
        active -> Bool,
        paused_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        position -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        next_run_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        change_id -> BigInt,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        first_attempt_at -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        next_attempt_at -> Timestamp,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries);

diesel::table! {
    external_refs (resource, source, ref_id) {
        resource -> Text,
        source -> Text,
        ref_id -> Text,
        record_id -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (caller, key) {
        caller -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sync_sources (id) {
        id -> BigInt,
        system_url -> Text,
        partner_ids -> Text,
        interval_minutes -> Integer,
        active -> Bool,
        state -> Text,
        last_run_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_full_at -> Nullable<Timestamp>,
        watermark -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        counts -> Text,
        resume -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        next_run_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> BigInt,
        source_id -> BigInt,
        full_run -> Bool,
        trigger_kind -> Text,
        state -> Text,
        modified_since -> Nullable<Timestamp>,
        resumed -> Bool,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        counts -> Text,
    }
}

diesel::table! {
    council_bodies (id) {
        id -> BigInt,
        source_id -> BigInt,
        oparl_id -> Text,
        partner_id -> Nullable<BigInt>,
        name -> Text,
        ags -> Nullable<Text>,
        organization_list -> Nullable<Text>,
        meeting_list -> Nullable<Text>,
        paper_list -> Nullable<Text>,
        modified -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    council_organizations (id) {
        id -> BigInt,
        body_id -> BigInt,
        oparl_id -> Text,
        name -> Text,
        short_name -> Nullable<Text>,
        classification -> Nullable<Text>,
        organization_type -> Nullable<Text>,
        modified -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    council_meetings (id) {
        id -> BigInt,
        body_id -> BigInt,
        partner_id -> Nullable<BigInt>,
        oparl_id -> Text,
        name -> Text,
        name_folded -> Text,
        start_at -> Nullable<Timestamp>,
        end_at -> Nullable<Timestamp>,
        start_date -> Nullable<Date>,
        sort_key -> Text,
        cancelled -> Bool,
        location -> Nullable<Text>,
        web_url -> Nullable<Text>,
        organization_ids -> Text,
        agenda_items -> Text,
        modified -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    council_papers (id) {
        id -> BigInt,
        body_id -> BigInt,
        partner_id -> Nullable<BigInt>,
        oparl_id -> Text,
        reference -> Nullable<Text>,
        name -> Text,
        search_folded -> Text,
        paper_type -> Nullable<Text>,
        paper_date -> Nullable<Date>,
        sort_key -> Text,
        main_file_url -> Nullable<Text>,
        web_url -> Nullable<Text>,
        keywords -> Text,
        keywords_folded -> Text,
        candidate -> Bool,
        consultations -> Text,
        modified -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    council_paper_keys (key, paper_id) {
        key -> Text,
        paper_id -> BigInt,
    }
}

diesel::table! {
    measure_council_keys (key, measure_id) {
        key -> Text,
        measure_id -> BigInt,
    }
}

diesel::joinable!(sync_runs -> sync_sources (source_id));
diesel::joinable!(council_bodies -> sync_sources (source_id));
diesel::joinable!(council_organizations -> council_bodies (body_id));
diesel::joinable!(council_meetings -> council_bodies (body_id));
diesel::joinable!(council_papers -> council_bodies (body_id));
diesel::joinable!(council_paper_keys -> council_papers (paper_id));
diesel::allow_tables_to_appear_in_same_query!(
    sync_sources,
    sync_runs,
    council_bodies,
    council_organizations,
    council_meetings,
    council_papers,
    council_paper_keys,
    measure_council_keys,
    measures,
);

diesel::allow_tables_to_appear_in_same_query!(council_decisions, measures);

diesel::table! {
    council_decisions (id) {
        id -> BigInt,
        measure_id -> BigInt,
        partner_id -> BigInt,
        manual_decision -> Nullable<Text>,
        manual_decided_on -> Nullable<Date>,
        manual_paper_id -> Nullable<BigInt>,
        manual_paper_url -> Nullable<Text>,
        note -> Nullable<Text>,
        derived_decision -> Nullable<Text>,
        derived_decided_on -> Nullable<Date>,
        derived_paper_id -> Nullable<BigInt>,
        derived_consultation_id -> Nullable<Text>,
        derived_meeting_id -> Nullable<BigInt>,
        derived_result -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(council_decisions -> measures (measure_id));
diesel::joinable!(council_decisions -> partners (partner_id));

diesel::table! {
    measure_sign_offs (id) {
        id -> BigInt,
        measure_id -> BigInt,
        partner_id -> BigInt,
        signed_on -> Date,
        contact_id -> Nullable<BigInt>,
        signatory_name -> Nullable<Text>,
        signatory_function -> Nullable<Text>,
        migrated -> Bool,
        created_at -> Timestamp,
    }
}

diesel::joinable!(measure_sign_offs -> measures (measure_id));
diesel::allow_tables_to_appear_in_same_query!(measure_sign_offs, measures);

diesel::table! {
    working_groups (id) {
        id -> BigInt,
        cooperation_id -> BigInt,
        name -> Text,
        name_folded -> Text,
        moderator_partner_id -> Nullable<BigInt>,
        status -> Text,
        member_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    working_group_fields (working_group_id, field_id) {
        working_group_id -> BigInt,
        field_id -> BigInt,
    }
}

diesel::table! {
    working_group_members (working_group_id, contact_id) {
        working_group_id -> BigInt,
        contact_id -> BigInt,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(working_group_fields -> working_groups (working_group_id));
diesel::joinable!(working_group_members -> working_groups (working_group_id));
diesel::allow_tables_to_appear_in_same_query!(working_groups, working_group_fields, working_group_members, measures);
diesel::allow_tables_to_appear_in_same_query!(working_group_members, contacts);

diesel::table! {
    events (id) {
        id -> BigInt,
        cooperation_id -> BigInt,
        kind -> Text,
        title -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        place -> Nullable<Text>,
        participant_count -> Nullable<Integer>,
        theme_groups -> Text,
        outcomes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    event_organisers (event_id, partner_id) {
        event_id -> BigInt,
        partner_id -> BigInt,
    }
}

diesel::table! {
    event_measures (event_id, measure_id) {
        event_id -> BigInt,
        measure_id -> BigInt,
    }
}

diesel::joinable!(event_organisers -> events (event_id));
diesel::joinable!(event_measures -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(events, event_organisers, event_measures);
